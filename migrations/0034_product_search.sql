-- Product search by substring on trigram indexes (issue 34).
--
-- `commerce.products.list` with `q` matches the name, the SKU or a
-- variant's SKU, case-insensitively, anywhere in them (ILIKE '%q%', its
-- wildcards escaped). Read in id order with a filter, a term few products
-- match reads every product of the tenant: 50,000 in the seeded big
-- tenant. GIN trigram indexes (pg_trgm) find those few at once; in id
-- order within the tenant, a common term, or any term in a small tenant,
-- stops after a page. Which is cheaper depends on the term and the
-- tenant, so the search is planned for each (EXECUTE in
-- olympus_product_search) rather than once for all. What it matches does
-- not change.
--
-- The tenant is not in the trigram indexes: with it (btree_gin), every
-- search of the big tenant read its 50,000 entries, 10 ms; without it, a
-- rare term reads its few matches in every tenant, 0.3 ms.
--
-- pg_trgm is a trusted extension (Postgres 13 and later): the database's
-- owner may create it. It comes with Postgres (Debian's postgresql-15
-- package has it).
CREATE EXTENSION IF NOT EXISTS pg_trgm;

--
-- fastupdate off: each insert updates the index itself rather than a
-- pending list that every search then reads in full until a vacuum
-- flushes it (up to 4 MB; after a seeding, 12 ms a search instead of 0.3).
-- Products are written seldom and searched often.
CREATE INDEX products_name_trgm_idx ON products USING gin (name gin_trgm_ops)
    WITH (fastupdate = off);
CREATE INDEX products_sku_trgm_idx ON products USING gin (sku gin_trgm_ops)
    WITH (fastupdate = off);
CREATE INDEX product_variants_sku_trgm_idx ON product_variants USING gin (sku gin_trgm_ops)
    WITH (fastupdate = off);
-- A tenant's variants by product, in order (the variant SKUs' part of a
-- common term).
CREATE INDEX product_variants_tenant_product_idx ON product_variants (tenant_id, product_id);

-- The ids of the caller's tenant's first `p_limit` products after
-- `p_after` (by id) of status `p_status` (NULL: any) whose name, SKU or a
-- variant's SKU is ILIKE `p_pattern`. Each of the three is read on its
-- own, to its first `p_limit`, so that each can take its best index; the
-- first `p_limit` of their union are the answer. The tenant is the
-- transaction's (olympus_current_tenant()), never an argument: the
-- function runs as the tables' owner (row-level security does not apply
-- to it), and reads only that tenant's rows. Ids only: the caller reads
-- the products themselves under row-level security.
--
-- The ILIKE operators are not leakproof, so under row-level security
-- Postgres may not use them as index conditions (they would see other
-- tenants' rows first): the request role's statement could never use the
-- trigram indexes. Hence a SECURITY DEFINER function, like the look-ups
-- of migration 0019, planned each call with its values (EXECUTE ...
-- USING).
CREATE FUNCTION olympus_product_search(p_pattern text, p_after uuid, p_status text,
                                       p_limit bigint)
    RETURNS SETOF uuid
    LANGUAGE plpgsql STABLE SECURITY DEFINER ROWS 20
    SET search_path = pg_catalog, pg_temp
    AS $$
    DECLARE
        tenant uuid := public.olympus_current_tenant();
    BEGIN
        IF tenant IS NULL THEN
            RAISE EXCEPTION 'olympus_product_search outside a tenant';
        END IF;
        RETURN QUERY EXECUTE
            '(SELECT p.id FROM public.products p
               WHERE p.tenant_id = $1 AND p.id > $2 AND ($3::text IS NULL OR p.status = $3)
                 AND p.name ILIKE $4
               ORDER BY p.id LIMIT $5)
             UNION
             (SELECT p.id FROM public.products p
               WHERE p.tenant_id = $1 AND p.id > $2 AND ($3::text IS NULL OR p.status = $3)
                 AND p.sku ILIKE $4
               ORDER BY p.id LIMIT $5)
             UNION
             (SELECT v.product_id FROM public.product_variants v
               WHERE v.tenant_id = $1 AND v.product_id > $2 AND v.sku ILIKE $4
                 AND ($3::text IS NULL OR EXISTS (
                         SELECT 1 FROM public.products s
                          WHERE s.id = v.product_id AND s.status = $3))
               GROUP BY v.product_id
               ORDER BY v.product_id LIMIT $5)'
            USING tenant, p_after, p_status, p_pattern, p_limit;
    END
    $$;
REVOKE ALL ON FUNCTION olympus_product_search(text, uuid, text, bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION olympus_product_search(text, uuid, text, bigint) TO olympus_app;
