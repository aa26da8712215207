-- Commerce (contract §5 commerce): products, orders and payments, each
-- confined to its tenant by row-level security, forced.

CREATE TABLE products (
    id           uuid PRIMARY KEY,
    tenant_id    uuid NOT NULL REFERENCES tenants (id),
    sku          text NOT NULL,
    name         text NOT NULL,
    description  text NOT NULL DEFAULT '',
    price_amount bigint NOT NULL CHECK (price_amount >= 0),
    currency     text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    -- Stock never goes below zero, whatever the code does.
    stock        bigint NOT NULL CHECK (stock >= 0),
    status       text NOT NULL CHECK (status IN ('active', 'archived')),
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL,
    CONSTRAINT products_tenant_sku_key UNIQUE (tenant_id, sku)
);
CREATE INDEX products_tenant_id_idx ON products (tenant_id, id);

-- Each tenant's order numbers: 1, 2, 3, ... taken at the end of the
-- order's transaction, so the row is locked only until its commit.
CREATE TABLE order_numbers (
    tenant_id uuid PRIMARY KEY REFERENCES tenants (id),
    last      bigint NOT NULL
);

CREATE TABLE orders (
    id               uuid PRIMARY KEY,
    tenant_id        uuid NOT NULL REFERENCES tenants (id),
    number           bigint NOT NULL,
    customer_id      uuid NOT NULL,
    status           text NOT NULL CHECK (status IN
                         ('pending_payment', 'paid', 'fulfilled', 'cancelled', 'refunded')),
    currency         text NOT NULL,
    total_amount     bigint NOT NULL CHECK (total_amount >= 0),
    shipping_address jsonb,
    billing_address  jsonb,
    contact_phone    text,
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL,
    CONSTRAINT orders_tenant_number_key UNIQUE (tenant_id, number)
);
CREATE INDEX orders_tenant_id_idx ON orders (tenant_id, id);
CREATE INDEX orders_customer_idx ON orders (tenant_id, customer_id, id);

CREATE TABLE order_items (
    order_id     uuid NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    tenant_id    uuid NOT NULL REFERENCES tenants (id),
    position     integer NOT NULL,
    product_id   uuid NOT NULL,
    sku          text NOT NULL,
    name         text NOT NULL,
    unit_amount  bigint NOT NULL,
    quantity     bigint NOT NULL CHECK (quantity BETWEEN 1 AND 10000),
    line_amount  bigint NOT NULL,
    PRIMARY KEY (order_id, position)
);

CREATE TABLE payments (
    id               uuid PRIMARY KEY,
    tenant_id        uuid NOT NULL REFERENCES tenants (id),
    order_id         uuid NOT NULL REFERENCES orders (id),
    status           text NOT NULL CHECK (status IN
                         ('authorized', 'captured', 'voided', 'failed', 'refunded', 'partially_refunded')),
    currency         text NOT NULL,
    amount           bigint NOT NULL CHECK (amount >= 0),
    captured_amount  bigint NOT NULL DEFAULT 0,
    refunded_amount  bigint NOT NULL DEFAULT 0,
    provider         text NOT NULL,
    provider_ref     text,
    failure_reason   text,
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL,
    -- Never more refunded than captured, nor captured than authorized.
    CHECK (captured_amount BETWEEN 0 AND amount),
    CHECK (refunded_amount BETWEEN 0 AND captured_amount)
);
CREATE INDEX payments_order_idx ON payments (tenant_id, order_id);
-- At most one live (authorized or captured) payment per order.
CREATE UNIQUE INDEX payments_live_order_key ON payments (order_id)
    WHERE status IN ('authorized', 'captured', 'partially_refunded', 'refunded');

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['products', 'order_numbers', 'orders', 'order_items', 'payments'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_isolation ON %I
                            USING (tenant_id = olympus_current_tenant())
                            WITH CHECK (tenant_id = olympus_current_tenant())', t);
        EXECUTE format('GRANT SELECT, INSERT, UPDATE ON %I TO olympus_app', t);
    END LOOP;
END
$$;
