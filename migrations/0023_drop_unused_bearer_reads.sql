-- The two bearer-read functions of 0015 (olympus_user_in_tenant,
-- olympus_tenant_in_tenant) have had no caller since auth.me and
-- tenant.get enter the tenant and read in one prepared statement
-- (commit 658ee65; today Db::read_shared; 0016 kept them for processes of
-- the release before). No binary that can run against this schema calls
-- them.
DROP FUNCTION olympus_user_in_tenant(uuid, uuid);
DROP FUNCTION olympus_tenant_in_tenant(uuid);
