-- Tenants decide whether anyone may register into them (contract §4,
-- revision 2); when not, users join only by invitation.
ALTER TABLE tenants ADD COLUMN self_registration boolean NOT NULL DEFAULT true;

-- The slug look-up of logins and registrations also answers that.
DROP FUNCTION olympus_tenant_by_slug(text);
CREATE FUNCTION olympus_tenant_by_slug(p_slug text)
    RETURNS TABLE (id uuid, active boolean, self_registration boolean)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
        SELECT t.id, t.status = 'active', t.self_registration
          FROM public.tenants t WHERE t.slug = p_slug
    $$;
REVOKE ALL ON FUNCTION olympus_tenant_by_slug(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION olympus_tenant_by_slug(text) TO olympus_app;
