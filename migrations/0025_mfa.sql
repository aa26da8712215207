-- Multi-factor login (contract §5, revision 3): TOTP authenticators,
-- recovery codes, the login's challenge, and tenants that require a second
-- factor. Every secret rests sealed or hashed: TOTP secrets sealed with
-- XChaCha20-Poly1305 under the key-encryption key (as signing keys are,
-- with the user as associated data, workers/auth/src/keys.rs), recovery
-- codes and challenge tokens as hashes.

-- A user's TOTP: the sealed secret once confirmed, and the last 30-second
-- step a code was accepted for, so that a code works once.
-- `mfa_enabled` is what the contract's user shows; it says whether there
-- is a secret.
ALTER TABLE users
    ADD COLUMN mfa_enabled boolean NOT NULL DEFAULT false,
    ADD COLUMN totp_secret bytea,
    ADD COLUMN totp_last_step bigint,
    ADD CONSTRAINT users_mfa_enabled_check CHECK (mfa_enabled = (totp_secret IS NOT NULL));

-- An enrollment not yet confirmed with a code; it expires. One per user:
-- a new one replaces the previous.
CREATE TABLE totp_enrollments (
    id         uuid PRIMARY KEY,
    tenant_id  uuid NOT NULL REFERENCES tenants (id),
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE
                    CONSTRAINT totp_enrollments_user_key UNIQUE,
    secret     bytea NOT NULL,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL
);
CREATE INDEX totp_enrollments_expires_idx ON totp_enrollments (expires_at);
ALTER TABLE totp_enrollments ENABLE ROW LEVEL SECURITY;
ALTER TABLE totp_enrollments FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON totp_enrollments
    USING (tenant_id = olympus_current_tenant())
    WITH CHECK (tenant_id = olympus_current_tenant());
GRANT SELECT, INSERT, UPDATE, DELETE ON totp_enrollments TO olympus_app;

-- Recovery codes: keyed hashes (HMAC-SHA-256), each usable once.
CREATE TABLE recovery_codes (
    tenant_id uuid NOT NULL REFERENCES tenants (id),
    user_id   uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    hash      bytea NOT NULL,
    used_at   timestamptz,
    PRIMARY KEY (user_id, hash)
);
ALTER TABLE recovery_codes ENABLE ROW LEVEL SECURITY;
ALTER TABLE recovery_codes FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON recovery_codes
    USING (tenant_id = olympus_current_tenant())
    WITH CHECK (tenant_id = olympus_current_tenant());
GRANT SELECT, INSERT, UPDATE, DELETE ON recovery_codes TO olympus_app;

-- A login's challenge after the right password: the SHA-256 of its opaque
-- token, 5 minutes, single use, dead after 5 wrong codes.
CREATE TABLE mfa_challenges (
    id          uuid PRIMARY KEY,
    tenant_id   uuid NOT NULL REFERENCES tenants (id),
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash  bytea NOT NULL CONSTRAINT mfa_challenges_token_hash_key UNIQUE,
    created_at  timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL,
    wrong_codes integer NOT NULL DEFAULT 0,
    used_at     timestamptz
);
CREATE INDEX mfa_challenges_expires_idx ON mfa_challenges (expires_at);
CREATE INDEX mfa_challenges_user_idx ON mfa_challenges (user_id);
ALTER TABLE mfa_challenges ENABLE ROW LEVEL SECURITY;
ALTER TABLE mfa_challenges FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON mfa_challenges
    USING (tenant_id = olympus_current_tenant())
    WITH CHECK (tenant_id = olympus_current_tenant());
GRANT SELECT, INSERT, UPDATE, DELETE ON mfa_challenges TO olympus_app;

-- Owners require a second factor of their members.
ALTER TABLE tenants ADD COLUMN require_mfa boolean NOT NULL DEFAULT false;
GRANT UPDATE (require_mfa) ON tenants TO olympus_app;

-- The login look-up (0018) also says whether the user has TOTP: the same
-- statements on every path, one more column.
DROP FUNCTION olympus_login_look_up(text, text, timestamptz, integer);
CREATE FUNCTION olympus_login_look_up(
        p_slug text, p_email text, p_now timestamptz, p_threshold integer)
    RETURNS TABLE (tenant_id uuid, tenant_active boolean, user_id uuid,
                   password_hash text, granted integer, locked boolean, mfa_enabled boolean)
    LANGUAGE plpgsql
    SET search_path = public, pg_temp
    AS $$
    #variable_conflict use_column
    DECLARE
        nil CONSTANT uuid := '00000000-0000-0000-0000-000000000000';
        v_tenant uuid;
        v_active boolean;
        v_user uuid;
        v_hash text;
        v_mfa boolean;
        v_granted integer;
        v_locked boolean;
    BEGIN
        PERFORM pg_catalog.set_config('synchronous_commit', 'off', true);
        SELECT t.id, t.active INTO v_tenant, v_active FROM olympus_tenant_by_slug(p_slug) t;
        PERFORM pg_catalog.set_config('olympus.tenant_id', coalesce(v_tenant, nil)::text, true);
        SELECT u.id, u.password_hash, u.mfa_enabled INTO v_user, v_hash, v_mfa
          FROM users u WHERE u.email = p_email;
        WITH target AS (
            SELECT id, failed_logins, locked_until FROM users
             WHERE id = CASE WHEN v_active THEN coalesce(v_user, nil) ELSE nil END
               FOR UPDATE
        ), counted AS (
            SELECT id, CASE WHEN locked_until <= p_now THEN 1 ELSE failed_logins + 1 END AS n
              FROM target
             WHERE locked_until <= p_now OR (locked_until IS NULL AND failed_logins < p_threshold)
        ), updated AS (
            UPDATE users u SET failed_logins = c.n, locked_until = NULL
              FROM counted c WHERE u.id = c.id
            RETURNING u.failed_logins
        )
        SELECT (SELECT failed_logins FROM updated),
               (SELECT locked_until IS NOT NULL AND locked_until > p_now FROM target)
          INTO v_granted, v_locked;
        RETURN QUERY SELECT v_tenant, v_active, v_user, v_hash, v_granted, v_locked, v_mfa;
    END
    $$;
REVOKE ALL ON FUNCTION olympus_login_look_up(text, text, timestamptz, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION olympus_login_look_up(text, text, timestamptz, integer) TO olympus_app;

-- A password login's session (0020) returns `mfa_enabled` with the user,
-- and opens nothing for a user who turned TOTP on since the look-up: their
-- login goes through the challenge.
DROP FUNCTION olympus_open_login_session(uuid, uuid, timestamptz, uuid, bytea, float8, text, text,
                                         uuid, uuid, uuid, text, text, text, bytea, text, text);
CREATE FUNCTION olympus_open_login_session(
        p_tenant uuid, p_user uuid, p_now timestamptz, p_session uuid,
        p_refresh_hash bytea, p_ttl_secs float8, p_ip text, p_user_agent text,
        p_event_id uuid, p_event_tenant uuid, p_event_aggregate uuid, p_event_kind text,
        p_event_subject text, p_correlation text, p_event_payload bytea,
        p_traceparent text, p_channel text)
    RETURNS TABLE (id uuid, tenant_id uuid, email text, display_name text, phone text,
                   role text, email_verified boolean, mfa_enabled boolean,
                   created_at timestamptz, updated_at timestamptz, last_login_at timestamptz)
    LANGUAGE plpgsql
    SET search_path = public, pg_temp
    AS $$
    #variable_conflict use_column
    BEGIN
        PERFORM pg_catalog.set_config('olympus.tenant_id', p_tenant::text, true);
        RETURN QUERY
        WITH logged_in AS (
            UPDATE users u
               SET last_login_at = p_now, failed_logins = 0, locked_until = NULL
             WHERE u.id = p_user AND NOT u.mfa_enabled
         RETURNING u.id, u.tenant_id, u.email, u.display_name, u.phone, u.role,
                   u.email_verified, u.mfa_enabled, u.created_at, u.updated_at, u.last_login_at
        )
        SELECT * FROM logged_in;
        IF NOT FOUND THEN
            RETURN;
        END IF;
        INSERT INTO sessions (id, tenant_id, user_id, refresh_hash, created_at, last_used_at,
                              expires_at, ip, user_agent)
        VALUES (p_session, p_tenant, p_user, p_refresh_hash, p_now, p_now,
                p_now + make_interval(secs => p_ttl_secs), p_ip, p_user_agent);
        PERFORM olympus_outbox_record(p_event_id, p_event_tenant, p_event_aggregate, p_event_kind,
                                      p_event_subject, p_correlation, p_event_payload,
                                      p_traceparent, p_channel);
    END
    $$;
REVOKE ALL ON FUNCTION olympus_open_login_session(uuid, uuid, timestamptz, uuid, bytea, float8,
                                                  text, text, uuid, uuid, uuid, text, text,
                                                  text, bytea, text, text)
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION olympus_open_login_session(uuid, uuid, timestamptz, uuid, bytea, float8,
                                                     text, text, uuid, uuid, uuid, text, text,
                                                     text, bytea, text, text)
    TO olympus_app;
