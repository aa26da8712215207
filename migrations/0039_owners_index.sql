-- A tenant's owners by index (issue 34): `tenant.members.set_role` and
-- `tenant.members.remove` lock the member and every owner, and found the
-- owners by reading all of the tenant's members (40 ms in a tenant of
-- 100,000). Owners are few; the index holds only them.
CREATE INDEX users_owners_idx ON users (tenant_id, id) WHERE role = 'owner';
