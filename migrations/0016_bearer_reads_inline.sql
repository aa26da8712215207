-- auth.me and tenant.get no longer call the functions of 0015: they enter
-- the tenant and read in one plain prepared statement
-- (workers/runtime/src/db.rs, `in_tenant`), which Postgres runs at about
-- 1.5 times the rate. The functions stay for now, because processes of the
-- previous release still call them while a rolling deploy replaces them;
-- a later migration drops them.
COMMENT ON FUNCTION olympus_user_in_tenant(uuid, uuid) IS
    'unused since migration 0016; kept for processes of the previous release during a rolling deploy';
COMMENT ON FUNCTION olympus_tenant_in_tenant(uuid) IS
    'unused since migration 0016; kept for processes of the previous release during a rolling deploy';
