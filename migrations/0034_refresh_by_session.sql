-- Refresh as a heap-only update (issue 34). A refresh token now names its
-- session (opaque.rs: tenant id, session id, 32 random bytes), so a
-- rotation finds the row by its primary key and changes only columns no
-- index covers: `refresh_digest`, the SHA-256 of the session's current
-- token, and `rotated_digests`, those of the last 8 tokens it rotated
-- away (newest first), which reuse detection compares a stale token with.
-- Nothing is inserted: rotated_refresh_tokens keeps only the tokens of
-- sessions that rotated before this (and the first rotation of a session
-- whose token is still in refresh_hash, which clears it). Tokens issued
-- before keep working: refresh_hash, still indexed, finds their session.
ALTER TABLE sessions
    ALTER COLUMN refresh_hash DROP NOT NULL,
    ADD COLUMN refresh_digest bytea,
    ADD COLUMN rotated_digests bytea[];

-- Room on each page for the new versions of its rows: a heap-only update
-- needs the new version on the same page.
ALTER TABLE sessions SET (fillfactor = 80);

-- A rotation by session: the session `p_session` whose current token
-- hashes to `p_hash` gets `p_next`, the old hash kept first among
-- rotated_digests. The current token's hash is in refresh_digest once the
-- session has rotated this way (a heap-only update, nothing inserted); a
-- session's first token (opened at login) and tokens issued before are in
-- refresh_hash, which the first rotation clears and, as before, records in
-- rotated_refresh_tokens (where a token of the old form is looked up).
CREATE FUNCTION olympus_rotate_session(
        p_tenant uuid, p_session uuid, p_hash bytea, p_next bytea, p_now timestamptz)
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
               SET refresh_digest = p_next,
                   rotated_digests = (ARRAY[p_hash] || s.rotated_digests)[1:8],
                   rotated_at = p_now, last_used_at = p_now
              FROM users u, tenants t
             WHERE s.id = p_session AND s.refresh_digest = p_hash
               AND s.revoked_at IS NULL AND s.expires_at > p_now
               AND u.id = s.user_id AND t.id = s.tenant_id AND t.status = 'active'
         RETURNING s.id, s.user_id, u.role,
                   extract(epoch FROM s.expires_at - p_now)::float8 AS remaining,
                   coalesce(s.auth_time, s.created_at) AS auth_time,
                   coalesce(s.amr, ARRAY['pwd']) AS amr
        )
        SELECT id, user_id, role, remaining, auth_time, amr FROM rotated;
        IF FOUND THEN
            RETURN;
        END IF;
        RETURN QUERY
        WITH rotated AS (
            UPDATE sessions s
               SET refresh_hash = NULL, refresh_digest = p_next,
                   rotated_digests = (ARRAY[p_hash] || s.rotated_digests)[1:8],
                   rotated_at = p_now, last_used_at = p_now
              FROM users u, tenants t
             WHERE s.id = p_session AND s.refresh_hash = p_hash
               AND s.revoked_at IS NULL AND s.expires_at > p_now
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
REVOKE ALL ON FUNCTION olympus_rotate_session(uuid, uuid, bytea, bytea, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION olympus_rotate_session(uuid, uuid, bytea, bytea, timestamptz) TO olympus_app;
