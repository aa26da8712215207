-- Tenants, users and sessions, under row-level security.
--
-- Tenant data is read and written as the role olympus_app (neither
-- superuser, nor BYPASSRLS, nor owner of the tables) inside transactions
-- that set olympus.tenant_id transaction-locally (see workers/runtime/src/db.rs).
-- Every table with a tenant_id has RLS enabled and forced, so even a query
-- that forgets its tenant filter sees only its own tenant's rows.

-- Roles are cluster-wide; several databases (tests, environments) may run
-- this migration at once, so creation tolerates losing the race.
DO $$
BEGIN
    CREATE ROLE olympus_app NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
EXCEPTION
    WHEN duplicate_object OR unique_violation THEN NULL;
END
$$;

-- The migrating role switches to olympus_app with SET LOCAL ROLE; a
-- superuser may always, any other role needs membership.
DO $$
BEGIN
    IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
        EXECUTE format('GRANT olympus_app TO %I', current_user);
    END IF;
END
$$;

-- The tenant of the current transaction, or NULL outside tenant scope
-- (NULL matches no row).
CREATE FUNCTION olympus_current_tenant() RETURNS uuid
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT nullif(current_setting('olympus.tenant_id', true), '')::uuid $$;

CREATE TABLE tenants (
    id          uuid PRIMARY KEY,
    slug        text NOT NULL CONSTRAINT tenants_slug_key UNIQUE,
    name        text NOT NULL,
    status      text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Slug lookups at login run as the owner; olympus_app sees its own tenant only.
ALTER TABLE tenants ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_self ON tenants
    USING (id = olympus_current_tenant());

CREATE TABLE users (
    id             uuid PRIMARY KEY,
    tenant_id      uuid NOT NULL REFERENCES tenants (id),
    email          text NOT NULL,
    display_name   text NOT NULL,
    role           text NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
    password_hash  text NOT NULL,
    email_verified boolean NOT NULL DEFAULT false,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    last_login_at  timestamptz,
    CONSTRAINT users_tenant_email_key UNIQUE (tenant_id, email)
);

-- A session is one login; its refresh token rotates on every refresh.
-- Only SHA-256 hashes of refresh tokens are stored.
CREATE TABLE sessions (
    id                    uuid PRIMARY KEY,
    tenant_id             uuid NOT NULL REFERENCES tenants (id),
    user_id               uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    refresh_hash          bytea NOT NULL CONSTRAINT sessions_refresh_hash_key UNIQUE,
    previous_refresh_hash bytea,
    rotated_at            timestamptz,
    created_at            timestamptz NOT NULL DEFAULT now(),
    last_used_at          timestamptz NOT NULL DEFAULT now(),
    expires_at            timestamptz NOT NULL,
    revoked_at            timestamptz,
    ip                    text,
    user_agent            text
);
CREATE INDEX sessions_previous_refresh_hash_idx ON sessions (previous_refresh_hash)
    WHERE previous_refresh_hash IS NOT NULL;
CREATE INDEX sessions_user_idx ON sessions (tenant_id, user_id);

ALTER TABLE users ENABLE ROW LEVEL SECURITY;
ALTER TABLE users FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON users
    USING (tenant_id = olympus_current_tenant())
    WITH CHECK (tenant_id = olympus_current_tenant());

ALTER TABLE sessions ENABLE ROW LEVEL SECURITY;
ALTER TABLE sessions FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON sessions
    USING (tenant_id = olympus_current_tenant())
    WITH CHECK (tenant_id = olympus_current_tenant());

GRANT SELECT ON tenants TO olympus_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON users, sessions TO olympus_app;

-- Development signing keys, used when OLYMPUS_JWT_KEYS is not set, so that
-- every process sharing this database signs and verifies alike. Not
-- readable by olympus_app.
CREATE TABLE signing_keys (
    kid        text PRIMARY KEY,
    secret     bytea NOT NULL CHECK (length(secret) >= 32),
    created_at timestamptz NOT NULL DEFAULT now()
);
