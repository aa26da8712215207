-- Plans that suit every tenant, big or small (issue 34).
--
-- A pooled connection plans a statement once (its generic plan) and
-- reuses the plan for every tenant it serves after. Row-level security's
-- `tenant_id = olympus_current_tenant()` is estimated with the tenant the
-- connection is in when it plans (Postgres evaluates stable functions
-- such as `current_setting` to estimate), from the column's statistics:
-- a big tenant among the most common values is estimated at its share of
-- the table, any other at the rest's average. So a plan fitted one tenant
-- and served them all:
--
-- - made for `seed-0` (100,000 of the seeded database's 1,000,000
--   users), `tenant.members.list` walked `users_pkey` and filtered by
--   tenant, a good plan for it; a tenant of 70 members then read 10,000
--   pages of other tenants' users for its first page (209 ms against
--   0.04);
-- - made for a small tenant, an order's lookup of its variants by
--   `id = ANY($1)` read the tenant's variants by tenant and filtered them,
--   a good plan for it; `seed-0` then read its 50,000 (17 ms against 0.09).
--
-- 1. Postgres keeps no statistics of `tenant_id` (`SET STATISTICS 0`): it
--    estimates `tenant_id = <a tenant>` at 1/200 of a table (its default
--    for a column it knows nothing of; a table of fewer than 200 rows, at
--    one row) for every tenant. Big enough that a
--    key's own index wins over reading a tenant's rows, small enough that
--    reading a table in key order until a page of one tenant's rows turns
--    up does not: every plan is the one for a big tenant, and costs a
--    small one no more than its rows.
--
--    A column's statistics outlive `SET STATISTICS 0` (ANALYZE skips the
--    column from then on) and only a superuser may delete them; without
--    one (a managed Postgres), a warning says what to run, and until then
--    plans are made as before (docs/operations.md, "Migrations and streams").
--
-- 2. Except products and their variants: product search
--    (`olympus_product_search`, migration 0034) plans each search with its
--    tenant and term, and needs the tenant's size to choose between the
--    tenant's products in id order (a common term, in a big tenant) and
--    the trigram indexes (a rare one). Their statistics stay (a tenant
--    among the most common values is estimated at its size; any other at
--    the rest's average over a hundredth as many tenants as rows, more
--    than it holds, which errs towards the indexes that bound a read); their
--    policies compare with a scalar subquery, `(SELECT
--    olympus_current_tenant())`, an init plan that Postgres evaluates once
--    per execution and never while planning, and `n_distinct` of -0.01
--    makes every other plan on them one for a tenant of a hundred rows
--    (a hundredth as many tenants as rows). A subquery is not per row: it
--    would not do for `users` and `tenants`, which shared reads (one
--    statement for several tenants, `workers/runtime/src/shared_reads.rs`)
--    read.
--
-- `rls::every_tenant_table_forces_row_security_and_the_app_role_is_unprivileged`
-- checks that every tenant table is one or the other.
DO $$
DECLARE
    t text;
    superuser boolean := (SELECT rolsuper FROM pg_roles WHERE rolname = current_user);
BEGIN
    FOR t IN
        SELECT c.relname
          FROM pg_class c
          JOIN pg_attribute a ON a.attrelid = c.oid
         WHERE c.relkind IN ('r', 'p') AND c.relnamespace = 'public'::regnamespace
           AND a.attname = 'tenant_id' AND NOT a.attisdropped
           AND c.relname NOT IN ('products', 'product_variants')
         ORDER BY 1
    LOOP
        EXECUTE format('ALTER TABLE %I ALTER COLUMN tenant_id SET STATISTICS 0', t);
        IF superuser THEN
            DELETE FROM pg_statistic s
             USING pg_attribute a
             WHERE s.starelid = format('%I', t)::regclass
               AND a.attrelid = s.starelid AND a.attnum = s.staattnum
               AND a.attname = 'tenant_id';
        ELSIF EXISTS (SELECT 1 FROM pg_stats
                       WHERE schemaname = 'public' AND tablename = t
                         AND attname = 'tenant_id') THEN
            RAISE WARNING 'the statistics of %.tenant_id remain: as a superuser, run DELETE FROM pg_statistic WHERE starelid = %::regclass AND staattnum = (SELECT attnum FROM pg_attribute WHERE attrelid = %::regclass AND attname = %)',
                t, quote_literal(t), quote_literal(t), quote_literal('tenant_id');
        END IF;
    END LOOP;
END
$$;

ALTER POLICY tenant_isolation ON products
    USING (tenant_id = (SELECT olympus_current_tenant()))
    WITH CHECK (tenant_id = (SELECT olympus_current_tenant()));
ALTER POLICY tenant_isolation ON product_variants
    USING (tenant_id = (SELECT olympus_current_tenant()))
    WITH CHECK (tenant_id = (SELECT olympus_current_tenant()));
ALTER TABLE products ALTER COLUMN tenant_id SET (n_distinct = -0.01);
ALTER TABLE product_variants ALTER COLUMN tenant_id SET (n_distinct = -0.01);
ANALYZE products;
ANALYZE product_variants;
