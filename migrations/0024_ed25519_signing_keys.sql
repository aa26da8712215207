-- Contract revision 3: access tokens are signed with Ed25519 keys that move
-- through standby -> active -> retired -> revoked; every process verifies
-- with their public halves, and only the auth worker opens a private one.
--
-- Revision 2's table held development HS256 secrets in plain text: it goes,
-- and the tokens those secrets signed are refused (their clients refresh;
-- refresh tokens are not JWTs). Deployments that configured their own
-- secrets keep verifying them for one token lifetime through
-- OLYMPUS_LEGACY_HS256_KEYS.
DROP TABLE signing_keys;

-- Not readable by olympus_app (no grant): every process reads the public
-- columns on the owner pool, with the revocations; the auth worker alone
-- reads `sealed_private_key`, and only it holds the key-encryption key that
-- opens it. The private key is erased when the key stops signing.
CREATE TABLE signing_keys (
    kid                text PRIMARY KEY CHECK (kid ~ '^[A-Za-z0-9._-]{1,64}$'),
    state              text NOT NULL CHECK (state IN ('standby', 'active', 'retired', 'revoked')),
    -- The Ed25519 public key.
    public_key         bytea NOT NULL CHECK (length(public_key) = 32),
    -- XChaCha20-Poly1305 under the key-encryption key, the key id as
    -- associated data: version byte, 24-byte nonce, sealed PKCS#8 document.
    sealed_private_key bytea CHECK (length(sealed_private_key) > 41),
    created_at         timestamptz NOT NULL,
    activated_at       timestamptz,
    retired_at         timestamptz,
    revoked_at         timestamptz,
    CHECK ((state IN ('standby', 'active')) = (sealed_private_key IS NOT NULL)),
    CHECK ((state = 'active') <= (activated_at IS NOT NULL)),
    CHECK ((state = 'retired') <= (retired_at IS NOT NULL)),
    CHECK ((state = 'revoked') = (revoked_at IS NOT NULL))
);

-- Exactly one key signs.
CREATE UNIQUE INDEX signing_keys_one_active ON signing_keys ((true)) WHERE state = 'active';

-- How each login proved who it was, and when: the `amr` and `auth_time`
-- claims of every access token of the session, kept by refreshes. NULL
-- (sessions of revision 2): a password login at `created_at`.
ALTER TABLE sessions
    ADD COLUMN auth_time timestamptz,
    ADD COLUMN amr text[];

-- olympus_rotate_session (migration 0017) also returns them.
DROP FUNCTION olympus_rotate_session(uuid, bytea, bytea, timestamptz);
CREATE FUNCTION olympus_rotate_session(
        p_tenant uuid, p_hash bytea, p_next bytea, p_now timestamptz)
    RETURNS TABLE (session_id uuid, user_id uuid, role text, remaining float8,
                   auth_time timestamptz, amr text[])
    LANGUAGE plpgsql
    SET search_path = public, pg_temp
    AS $$
    #variable_conflict use_column
    BEGIN
        PERFORM pg_catalog.set_config('olympus.tenant_id', p_tenant::text, true);
        RETURN QUERY
        WITH rotated AS (
            UPDATE sessions s
               SET refresh_hash = p_next, rotated_at = p_now, last_used_at = p_now
              FROM users u, tenants t
             WHERE s.refresh_hash = p_hash AND s.revoked_at IS NULL AND s.expires_at > p_now
               AND u.id = s.user_id AND t.id = s.tenant_id AND t.status = 'active'
         RETURNING s.id, s.user_id, u.role,
                   extract(epoch FROM s.expires_at - p_now)::float8 AS remaining,
                   coalesce(s.auth_time, s.created_at) AS auth_time,
                   coalesce(s.amr, ARRAY['pwd']) AS amr
        ), kept AS (
            INSERT INTO rotated_refresh_tokens (token_hash, tenant_id, session_id, rotated_at)
            SELECT p_hash, p_tenant, id, p_now FROM rotated
        )
        SELECT id, user_id, role, remaining, auth_time, amr FROM rotated;
    END
    $$;
REVOKE ALL ON FUNCTION olympus_rotate_session(uuid, bytea, bytea, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION olympus_rotate_session(uuid, bytea, bytea, timestamptz) TO olympus_app;
