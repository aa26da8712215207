-- Recording an outbox row becomes a function, so that a statement that
-- changes data can record its event in the same round trip; and
-- auth.login's session opens in one call: before, BEGIN with the scope, the
-- user's update, the session, the event and COMMIT took five round trips.

-- One outbox row (workers/runtime/src/outbox/mod.rs builds and checks it),
-- in the caller's transaction and tenant scope, as the calling role
-- (SECURITY INVOKER: row-level security checks its tenant). First a
-- transaction-level advisory lock on its aggregate, so that rows of one
-- aggregate get their seq in commit order; then a NOTIFY on p_channel, which
-- Postgres delivers at commit and which wakes the relay.
CREATE FUNCTION olympus_outbox_record(
        p_id uuid, p_tenant uuid, p_aggregate uuid, p_kind text, p_subject text,
        p_correlation text, p_payload bytea, p_traceparent text, p_channel text)
    RETURNS void
    LANGUAGE plpgsql
    SET search_path = public, pg_temp
    AS $$
    BEGIN
        PERFORM pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtextextended(p_aggregate::text, 0));
        PERFORM pg_catalog.pg_notify(p_channel, '');
        INSERT INTO outbox (id, tenant_id, aggregate_id, kind, subject, correlation_id, payload,
                            traceparent)
        VALUES (p_id, p_tenant, p_aggregate, p_kind, p_subject, p_correlation, p_payload,
                p_traceparent);
    END
    $$;
REVOKE ALL ON FUNCTION olympus_outbox_record(uuid, uuid, uuid, text, text, text, bytea, text, text)
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION olympus_outbox_record(uuid, uuid, uuid, text, text, text, bytea, text, text)
    TO olympus_app;

-- A login's session, as one call outside any transaction (it commits with
-- its statement), after the password matched: enter the tenant, clear the
-- user's failures and record the login's time, insert the session and
-- record its user.logged_in (the last nine arguments, those of
-- olympus_outbox_record). Returns the user as the contract shows them (no
-- hash); no row, and nothing written, when the user is gone meanwhile. As
-- the calling role (SECURITY INVOKER): row-level security confines it to
-- p_tenant.
CREATE FUNCTION olympus_open_login_session(
        p_tenant uuid, p_user uuid, p_now timestamptz, p_session uuid,
        p_refresh_hash bytea, p_ttl_secs float8, p_ip text, p_user_agent text,
        p_event_id uuid, p_event_tenant uuid, p_event_aggregate uuid, p_event_kind text,
        p_event_subject text, p_correlation text, p_event_payload bytea,
        p_traceparent text, p_channel text)
    RETURNS TABLE (id uuid, tenant_id uuid, email text, display_name text, phone text,
                   role text, email_verified boolean, created_at timestamptz,
                   updated_at timestamptz, last_login_at timestamptz)
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
             WHERE u.id = p_user
         RETURNING u.id, u.tenant_id, u.email, u.display_name, u.phone, u.role,
                   u.email_verified, u.created_at, u.updated_at, u.last_login_at
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
