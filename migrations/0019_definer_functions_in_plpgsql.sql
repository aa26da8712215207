-- The two SECURITY DEFINER look-ups of the request role in PL/pgSQL, so
-- that each connection plans their query once.
--
-- A LANGUAGE sql function with a SET clause (here search_path, which a
-- SECURITY DEFINER function needs) is never inlined, and Postgres 15 parses
-- and plans its body on every call: under load, pg_stat_statements showed
-- olympus_tenant_by_slug at 0.24 ms per call for a body that took 0.02 ms.
-- PL/pgSQL keeps the plan for the connection. pgbench, 4 clients, prepared,
-- on a 2-core VM, two runs each, before and after this migration:
-- olympus_tenant_by_slug 33,300-33,500 calls/s before, 55,100-63,700
-- after; olympus_member 25,100-27,600 before, 46,400-59,600 after;
-- olympus_login_look_up (which calls the first; here for a slug no tenant
-- has) 20,500-21,500 before, 26,900-28,300 after. The functions answer the
-- same rows as before; their names, arguments, results, owner and grants
-- do not change.
--
-- olympus_tenant_by_slug: logins (through olympus_login_look_up),
-- registrations, password resets. olympus_member: every operation that
-- needs more than membership (workers/runtime/src/roles.rs).
CREATE OR REPLACE FUNCTION olympus_tenant_by_slug(p_slug text)
    RETURNS TABLE (id uuid, active boolean, self_registration boolean)
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
    BEGIN
        RETURN QUERY
            SELECT t.id, t.status = 'active', t.self_registration
              FROM public.tenants t WHERE t.slug = p_slug;
    END
    $$;

CREATE OR REPLACE FUNCTION olympus_member(p_tenant uuid, p_user uuid)
    RETURNS TABLE (role text, platform boolean)
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
    BEGIN
        RETURN QUERY
            SELECT u.role, t.slug = 'platform'
              FROM public.users u JOIN public.tenants t ON t.id = u.tenant_id
             WHERE u.tenant_id = p_tenant AND u.id = p_user;
    END
    $$;
