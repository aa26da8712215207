-- Tenant administration (contract §5 tenant, revision 2): phones, roles
-- checked per request, invitations, platform administrators, suspension.

-- A user's phone, E.164 as the contract returns it.
ALTER TABLE users ADD COLUMN phone text CHECK (phone ~ '^\+[1-9][0-9]{6,14}$');

-- The caller's current role, read by the runtime before an operation that
-- needs more than membership (workers/runtime/src/roles.rs); `platform`
-- says whether the tenant is the reserved tenant of platform
-- administrators. No row: the user no longer exists.
CREATE FUNCTION olympus_member(p_tenant uuid, p_user uuid)
    RETURNS TABLE (role text, platform boolean)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
        SELECT u.role, t.slug = 'platform'
          FROM public.users u JOIN public.tenants t ON t.id = u.tenant_id
         WHERE u.tenant_id = p_tenant AND u.id = p_user
    $$;
REVOKE ALL ON FUNCTION olympus_member(uuid, uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION olympus_member(uuid, uuid) TO olympus_app;

-- Tenant administration changes the tenant row of its own scope
-- (update, and suspend/reactivate run in the target tenant's scope).
GRANT UPDATE (name, self_registration, status, updated_at) ON tenants TO olympus_app;

-- Platform administrators list every tenant: a transaction that sets
-- olympus.scope to 'platform' (Db::platform, only after the runtime has
-- checked the caller) reads all tenant rows, and nothing else.
CREATE FUNCTION olympus_platform_scope() RETURNS boolean
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT coalesce(current_setting('olympus.scope', true), '') = 'platform' $$;
CREATE POLICY platform_read ON tenants FOR SELECT
    USING (olympus_platform_scope());

-- Invitations: single use, 7 days, only SHA-256 hashes of tokens stored.
-- One pending invitation per email: a newer one revokes the older.
CREATE TABLE invitations (
    id          uuid PRIMARY KEY,
    tenant_id   uuid NOT NULL REFERENCES tenants (id),
    email       text NOT NULL,
    role        text NOT NULL CHECK (role IN ('admin', 'member')),
    token_hash  bytea NOT NULL CONSTRAINT invitations_token_hash_key UNIQUE,
    invited_by  uuid,
    created_at  timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL,
    accepted_at timestamptz,
    revoked_at  timestamptz
);
CREATE UNIQUE INDEX invitations_pending_email_key ON invitations (tenant_id, email)
    WHERE accepted_at IS NULL AND revoked_at IS NULL;
CREATE INDEX invitations_tenant_idx ON invitations (tenant_id, id);
ALTER TABLE invitations ENABLE ROW LEVEL SECURITY;
ALTER TABLE invitations FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON invitations
    USING (tenant_id = olympus_current_tenant())
    WITH CHECK (tenant_id = olympus_current_tenant());
GRANT SELECT, INSERT, UPDATE ON invitations TO olympus_app;

-- Members are listed by id (UUIDv7, creation order), a page at a time.
CREATE INDEX users_tenant_id_idx ON users (tenant_id, id);

-- A removed member's sessions are revoked, not deleted with the user: the
-- revocation reads of every process (workers/runtime/src/revocation.rs)
-- must still see them. The relay prunes them after the retention.
ALTER TABLE sessions DROP CONSTRAINT sessions_user_id_fkey;
