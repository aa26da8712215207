-- Requests connect as olympus_app itself (workers/runtime/src/db.rs), not
-- as the owner narrowed with SET ROLE: a login role that is not superuser,
-- not BYPASSRLS and owns nothing cannot leave row-level security, not even
-- with RESET ROLE. Production gives it a password (ALTER ROLE olympus_app
-- PASSWORD ...) or uses another such role via OLYMPUS_APP_DATABASE_URL.
--
-- Roles are cluster-wide and several databases may migrate at once; a
-- concurrent ALTER ROLE can fail with "tuple concurrently updated", so this
-- retries until the role can log in.
DO $$
BEGIN
    FOR attempt IN 1..50 LOOP
        EXIT WHEN (SELECT rolcanlogin FROM pg_roles WHERE rolname = 'olympus_app');
        BEGIN
            ALTER ROLE olympus_app LOGIN;
        EXCEPTION
            WHEN OTHERS THEN PERFORM pg_sleep(0.05 * attempt);
        END;
    END LOOP;
END
$$;

-- A login names its tenant by slug before any tenant is in scope. This
-- function answers exactly that (the tenant's id and whether it is
-- active) for the request role, and nothing more: the role itself sees
-- only the tenant of its transaction.
CREATE FUNCTION olympus_tenant_by_slug(p_slug text)
    RETURNS TABLE (id uuid, active boolean)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$ SELECT t.id, t.status = 'active' FROM public.tenants t WHERE t.slug = p_slug $$;
REVOKE ALL ON FUNCTION olympus_tenant_by_slug(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION olympus_tenant_by_slug(text) TO olympus_app;

-- Signup creates the tenant in the new tenant's own scope (the policy
-- tenant_self admits only that id), together with its owner, in one
-- transaction as the request role.
GRANT INSERT ON tenants TO olympus_app;
