-- auth.refresh in one round trip: enter the tenant, rotate the session's
-- refresh hash and keep the old one, as one call outside any transaction
-- (it commits with its statement). Before, the same rotation took BEGIN with
-- the scope, the rotation, and COMMIT: three round trips.
--
-- As the tenant transactions do, it sets the scope transaction-locally and
-- reads and writes as the calling role (SECURITY INVOKER): row-level
-- security confines it to p_tenant. Of concurrent rotations of one hash,
-- exactly one finds it (the UPDATE's condition); a hash found nowhere
-- returns no row, and the caller checks it for reuse.
CREATE FUNCTION olympus_rotate_session(
        p_tenant uuid, p_hash bytea, p_next bytea, p_now timestamptz)
    RETURNS TABLE (session_id uuid, user_id uuid, role text, remaining float8)
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
                   extract(epoch FROM s.expires_at - p_now)::float8 AS remaining
        ), kept AS (
            INSERT INTO rotated_refresh_tokens (token_hash, tenant_id, session_id, rotated_at)
            SELECT p_hash, p_tenant, id, p_now FROM rotated
        )
        SELECT id, user_id, role, remaining FROM rotated;
    END
    $$;
REVOKE ALL ON FUNCTION olympus_rotate_session(uuid, bytea, bytea, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION olympus_rotate_session(uuid, bytea, bytea, timestamptz) TO olympus_app;
