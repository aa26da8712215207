-- The hot bearer reads (auth.me, tenant.get) in one round trip each, with
-- plans Postgres keeps. Each function enters the given tenant exactly as a
-- tenant transaction does (set_config(..., true): transaction-local, so it
-- ends with the caller's statement or transaction) and then reads as the
-- calling role (SECURITY INVOKER): row-level security confines the read to
-- that tenant, so it sees nothing a request of that tenant could not.
-- (A multi-statement simple-protocol message did the same in one round
-- trip, but Postgres parsed and planned it on every call: about 40 % of
-- its CPU per auth.me.)
CREATE FUNCTION olympus_user_in_tenant(p_tenant uuid, p_user uuid)
    RETURNS SETOF users
    LANGUAGE plpgsql
    SET search_path = public, pg_temp
    AS $$
    BEGIN
        PERFORM pg_catalog.set_config('olympus.tenant_id', p_tenant::text, true);
        RETURN QUERY SELECT * FROM users WHERE users.id = p_user;
    END
    $$;
REVOKE ALL ON FUNCTION olympus_user_in_tenant(uuid, uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION olympus_user_in_tenant(uuid, uuid) TO olympus_app;

CREATE FUNCTION olympus_tenant_in_tenant(p_tenant uuid)
    RETURNS SETOF tenants
    LANGUAGE plpgsql
    SET search_path = public, pg_temp
    AS $$
    BEGIN
        PERFORM pg_catalog.set_config('olympus.tenant_id', p_tenant::text, true);
        RETURN QUERY SELECT * FROM tenants WHERE tenants.id = p_tenant;
    END
    $$;
REVOKE ALL ON FUNCTION olympus_tenant_in_tenant(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION olympus_tenant_in_tenant(uuid) TO olympus_app;
