-- auth.refresh as an update in place (issue 34).
--
-- A refresh token of the new form (workers/auth/src/sessions/token.rs)
-- names its session and its generation. The session keeps the SHA-256 of
-- its current token (refresh_digest) and the generation, in columns no
-- index covers, so a refresh is one UPDATE of the session's row by its
-- primary key that Postgres can make heap-only: no index entry, no
-- rotated_refresh_tokens row, no foreign-key check. A token rotated away
-- is recognised by its generation and its MAC instead of by a kept hash
-- (reuse revokes the session, as before).
--
-- Sessions opened before keep their refresh_hash (unique, indexed) and
-- rotate as before, through olympus_rotate_session, until they expire. A
-- session has one form or the other. Processes of the previous release
-- keep working during a rolling upgrade: they open and rotate sessions of
-- the former form, and refuse tokens of the new form (their clients log
-- in again).
ALTER TABLE sessions
    ALTER COLUMN refresh_hash DROP NOT NULL,
    ADD COLUMN refresh_digest bytea,
    ADD COLUMN refresh_generation bigint,
    -- When the last (at most 8) generations were rotated away, oldest
    -- first: the last is generation refresh_generation - 1's. A token of
    -- one of them presented within the grace period of its own rotation
    -- is a client's concurrent retry, not a reuse (contract §4). An older
    -- one is a reuse even within it: only a chain refreshed more than 8
    -- times in 5 s has one, and no client retries that far back.
    ADD COLUMN recent_rotations timestamptz[],
    -- NOT VALID: every existing row has a refresh_hash (it was NOT NULL)
    -- and none of the new columns, so none is read to check it (the table
    -- stays locked only for an instant); new and updated rows are checked.
    ADD CONSTRAINT sessions_one_refresh_form CHECK (
        (refresh_hash IS NULL) = (refresh_digest IS NOT NULL)
        AND (refresh_digest IS NULL) = (refresh_generation IS NULL)) NOT VALID;
-- Room on each page for the updated row, so that the update can stay on
-- it (a heap-only update needs the new version on the same page).
ALTER TABLE sessions SET (fillfactor = 90);

-- olympus_open_login_session (migration 0025) for a session of the new
-- form: p_refresh_digest and generation 0 instead of a refresh_hash.
CREATE FUNCTION olympus_open_login_session_in_place(
        p_tenant uuid, p_user uuid, p_now timestamptz, p_session uuid,
        p_refresh_digest bytea, p_ttl_secs float8, p_ip text, p_user_agent text,
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
        INSERT INTO sessions (id, tenant_id, user_id, refresh_digest, refresh_generation,
                              created_at, last_used_at, expires_at, ip, user_agent)
        VALUES (p_session, p_tenant, p_user, p_refresh_digest, 0, p_now, p_now,
                p_now + make_interval(secs => p_ttl_secs), p_ip, p_user_agent);
        PERFORM olympus_outbox_record(p_event_id, p_event_tenant, p_event_aggregate, p_event_kind,
                                      p_event_subject, p_correlation, p_event_payload,
                                      p_traceparent, p_channel);
    END
    $$;
REVOKE ALL ON FUNCTION olympus_open_login_session_in_place(uuid, uuid, timestamptz, uuid, bytea,
                                                           float8, text, text, uuid, uuid, uuid,
                                                           text, text, text, bytea, text, text)
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION olympus_open_login_session_in_place(uuid, uuid, timestamptz, uuid,
                                                              bytea, float8, text, text, uuid,
                                                              uuid, uuid, text, text, text,
                                                              bytea, text, text)
    TO olympus_app;

-- The refresh of a token of the new form, in one call outside any
-- transaction (as olympus_rotate_session, migration 0017): the session
-- p_session, if its current token is the one of generation p_generation
-- whose digest is p_digest, and it is live in an active tenant, gets
-- p_next and the next generation, and the rotation's time is added to its
-- last 7. Of concurrent refreshes with one token, exactly one finds it.
-- Nothing else is written.
CREATE FUNCTION olympus_rotate_session_in_place(
        p_tenant uuid, p_session uuid, p_generation bigint, p_digest bytea, p_next bytea,
        p_now timestamptz)
    RETURNS TABLE (session_id uuid, user_id uuid, role text, remaining float8,
                   auth_time timestamptz, amr text[])
    LANGUAGE plpgsql
    SET search_path = public, pg_temp
    AS $$
    #variable_conflict use_column
    BEGIN
        PERFORM pg_catalog.set_config('olympus.tenant_id', p_tenant::text, true);
        RETURN QUERY
            UPDATE sessions s
               SET refresh_digest = p_next, refresh_generation = p_generation + 1,
                   rotated_at = p_now, last_used_at = p_now,
                   recent_rotations = (coalesce(s.recent_rotations, '{}'))[
                       greatest(cardinality(s.recent_rotations) - 6, 1):] || p_now
              FROM users u, tenants t
             WHERE s.id = p_session AND s.tenant_id = p_tenant
               AND s.refresh_generation = p_generation
               AND s.refresh_digest = p_digest
               AND s.revoked_at IS NULL AND s.expires_at > p_now
               AND u.id = s.user_id AND t.id = s.tenant_id AND t.status = 'active'
         RETURNING s.id, s.user_id, u.role,
                   extract(epoch FROM s.expires_at - p_now)::float8,
                   coalesce(s.auth_time, s.created_at),
                   coalesce(s.amr, ARRAY['pwd']);
    END
    $$;
REVOKE ALL ON FUNCTION olympus_rotate_session_in_place(uuid, uuid, bigint, bytea, bytea,
                                                       timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION olympus_rotate_session_in_place(uuid, uuid, bigint, bytea, bytea,
                                                          timestamptz) TO olympus_app;
