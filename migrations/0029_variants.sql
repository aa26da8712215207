-- Variants (contract §5 commerce, revision 3): a product has 1 to 100
-- variants, each one combination of option values, with its own SKU, price
-- and stock. Stock and prices move from products to their variants: the
-- variant is what an order line buys and what stock is reserved from.
--
-- A product's first variant, made with it by products.create, has the
-- product's id: a product_id names it wherever a product with one variant
-- may stand for its variant (order lines, inventory.adjust), and the
-- product's price and stock are its first variant's. Existing products
-- become their first variants here, and existing order lines name them.
CREATE TABLE product_variants (
    id            uuid PRIMARY KEY,
    tenant_id     uuid NOT NULL REFERENCES tenants (id),
    product_id    uuid NOT NULL REFERENCES products (id),
    sku           text NOT NULL,
    -- {option: value}; {} for a product's first variant.
    option_values jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(option_values) = 'object'),
    price_amount  bigint NOT NULL CHECK (price_amount >= 0),
    currency      text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    -- Stock never goes below zero, whatever the code does.
    stock         bigint NOT NULL CHECK (stock >= 0),
    status        text NOT NULL CHECK (status IN ('active', 'archived')),
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL,
    -- SKUs are unique per tenant across products and variants (a product's
    -- SKU is its first variant's).
    CONSTRAINT product_variants_tenant_sku_key UNIQUE (tenant_id, sku),
    -- One combination, one variant.
    CONSTRAINT product_variants_combination_key UNIQUE (product_id, option_values)
);
ALTER TABLE product_variants ENABLE ROW LEVEL SECURITY;
ALTER TABLE product_variants FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON product_variants
    USING (tenant_id = olympus_current_tenant())
    WITH CHECK (tenant_id = olympus_current_tenant());
GRANT SELECT, INSERT, UPDATE ON product_variants TO olympus_app;

INSERT INTO product_variants (id, tenant_id, product_id, sku, option_values, price_amount,
                              currency, stock, status, created_at, updated_at)
SELECT id, tenant_id, id, sku, '{}'::jsonb, price_amount, currency, stock, 'active', created_at,
       updated_at
  FROM products;
ALTER TABLE products DROP COLUMN price_amount, DROP COLUMN currency, DROP COLUMN stock;

-- Order lines name their variant and its option values.
ALTER TABLE order_items ADD COLUMN variant_id uuid,
                        ADD COLUMN option_values jsonb NOT NULL DEFAULT '{}'::jsonb;
UPDATE order_items SET variant_id = product_id;
ALTER TABLE order_items ALTER COLUMN variant_id SET NOT NULL;
