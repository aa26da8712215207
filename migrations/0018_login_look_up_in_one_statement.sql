-- auth.login's look-up in one round trip: the tenant by its slug, the user
-- by their address in that tenant, and the login's try at the account, as
-- one call outside any transaction (it commits with its statement). Before,
-- the same look-up took BEGIN, SET LOCAL synchronous_commit, the slug, the
-- scope, the user, the try and COMMIT: seven round trips.
--
-- Every path runs the same statements, whether the tenant, the user or the
-- try exist: what does not exist is looked up as nothing (the nil tenant,
-- the nil user), so an unknown tenant costs what a known user costs. It
-- reads and writes as the calling role (SECURITY INVOKER): the slug goes
-- through olympus_tenant_by_slug, and row-level security confines the rest
-- to that tenant.
--
-- The try (lockout, 0007): one atomic UPDATE counts it among the account's
-- consecutive failures before the password is compared, unless the account
-- is locked or the tries in flight use up the budget (p_threshold).
-- Returns one row: the tenant (NULL when the slug names none), the user and
-- their hash (NULL when the address names no one there), `granted` (the
-- failures counting this try; NULL when no try was given) and `locked`
-- (whether the account is locked now; NULL when no account was tried: no
-- user, or a suspended tenant).
CREATE FUNCTION olympus_login_look_up(
        p_slug text, p_email text, p_now timestamptz, p_threshold integer)
    RETURNS TABLE (tenant_id uuid, tenant_active boolean, user_id uuid,
                   password_hash text, granted integer, locked boolean)
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
        v_granted integer;
        v_locked boolean;
    BEGIN
        -- A try's write must not make a known user's login wait for a WAL
        -- flush that an unknown user's never waits for; a try lost in a
        -- crash costs nothing.
        PERFORM pg_catalog.set_config('synchronous_commit', 'off', true);
        SELECT t.id, t.active INTO v_tenant, v_active FROM olympus_tenant_by_slug(p_slug) t;
        PERFORM pg_catalog.set_config('olympus.tenant_id', coalesce(v_tenant, nil)::text, true);
        SELECT u.id, u.password_hash INTO v_user, v_hash FROM users u WHERE u.email = p_email;
        -- Only an active tenant's user takes a try.
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
        RETURN QUERY SELECT v_tenant, v_active, v_user, v_hash, v_granted, v_locked;
    END
    $$;
REVOKE ALL ON FUNCTION olympus_login_look_up(text, text, timestamptz, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION olympus_login_look_up(text, text, timestamptz, integer) TO olympus_app;
