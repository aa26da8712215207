-- Request transactions run on generic plans; functions plan as before
-- (issue 34).
--
-- Since 0038 a request's transaction (olympus_runtime::db, `Db::tenant`)
-- sets `plan_cache_mode = force_generic_plan`: each statement is planned
-- once per connection, as the test `every_static_statement_is_on_an_index`
-- plans it. Left to choose (`auto`), Postgres re-planned every execution
-- of a page (`... LIMIT $2`) in a big tenant: a generic plan of `LIMIT $2`
-- is estimated to read a tenth of the tenant's rows, dearer than the custom
-- plan of `LIMIT 21`, so it was never chosen. In a small tenant (the
-- empty database) the two cost the same and the generic plan won. Planning
-- each time cost a page of members 0.1 ms of Postgres's time more in
-- `seed-0` than in a small tenant.
--
-- The setting is the transaction's, so it would reach the statements of
-- the functions a request calls. Those are not in that test: every
-- PL/pgSQL function of Olympus's (the migrating role's, and no
-- extension's) keeps `auto`, and plans as it did. A function added
-- later says so too (`SET plan_cache_mode = auto`);
-- `rls::requests_plan_once_and_functions_as_before` checks.
DO $$
DECLARE
    f regprocedure;
BEGIN
    FOR f IN
        SELECT p.oid::regprocedure FROM pg_catalog.pg_proc p
          JOIN pg_catalog.pg_language l ON l.oid = p.prolang
         WHERE p.pronamespace = 'public'::regnamespace AND l.lanname = 'plpgsql'
           AND p.proowner = current_user::regrole
           -- Not an extension's.
           AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                            WHERE d.classid = 'pg_catalog.pg_proc'::regclass
                              AND d.objid = p.oid AND d.deptype = 'e')
    LOOP
        EXECUTE format('ALTER FUNCTION %s SET plan_cache_mode = auto', f);
    END LOOP;
END
$$;

-- The login look-up's lock of its user was planned anew at every login:
-- under row-level security `id = CASE ... coalesce(...) END` may not be an
-- index condition (a COALESCE is not leakproof), so its generic plan read the
-- tenant's users and filtered them (22 ms in `seed-0`), and Postgres kept
-- choosing the custom plan, made again each time, dearer in a big tenant
-- (a login less its hashing: 0.86 of a small tenant's). The id is now a
-- variable, which is a parameter: the generic plan is on `users_pkey`.
-- Otherwise as in 0025.
CREATE OR REPLACE FUNCTION olympus_login_look_up(
        p_slug text, p_email text, p_now timestamptz, p_threshold integer)
    RETURNS TABLE (tenant_id uuid, tenant_active boolean, user_id uuid,
                   password_hash text, granted integer, locked boolean, mfa_enabled boolean)
    LANGUAGE plpgsql
    SET search_path = public, pg_temp
    SET plan_cache_mode = auto
    AS $$
    #variable_conflict use_column
    DECLARE
        nil CONSTANT uuid := '00000000-0000-0000-0000-000000000000';
        v_tenant uuid;
        v_active boolean;
        v_user uuid;
        v_hash text;
        v_mfa boolean;
        v_target uuid;
        v_granted integer;
        v_locked boolean;
    BEGIN
        PERFORM pg_catalog.set_config('synchronous_commit', 'off', true);
        SELECT t.id, t.active INTO v_tenant, v_active FROM olympus_tenant_by_slug(p_slug) t;
        PERFORM pg_catalog.set_config('olympus.tenant_id', coalesce(v_tenant, nil)::text, true);
        SELECT u.id, u.password_hash, u.mfa_enabled INTO v_user, v_hash, v_mfa
          FROM users u WHERE u.email = p_email;
        v_target := CASE WHEN v_active THEN coalesce(v_user, nil) ELSE nil END;
        WITH target AS (
            SELECT id, failed_logins, locked_until FROM users WHERE id = v_target FOR UPDATE
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
