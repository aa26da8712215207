-- Carts and the promotions they use (contract §5 commerce, revision 3).
--
-- A cart is its member's alone and is priced live: its lines name variants
-- and quantities, never prices. It is open until checked out; an open cart
-- left 30 days without a change reads as expired (from updated_at: nothing
-- needs to run to expire it). Deleting a member (auth.delete_me) deletes
-- their carts, which hold addresses and a phone.
CREATE TABLE carts (
    id               uuid PRIMARY KEY,
    tenant_id        uuid NOT NULL REFERENCES tenants (id),
    customer_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    status           text NOT NULL CHECK (status IN ('open', 'checked_out')),
    -- Upper case, as promotions store codes; the promotion need not exist.
    promotion_code   text,
    shipping_address jsonb,
    billing_address  jsonb,
    contact_phone    text,
    -- The order a checkout made, and for an idempotent checkout with a
    -- payment, SHA-256 of its key and request: a retry after the order
    -- committed, before its reply was stored, resumes with the payment.
    order_id         uuid,
    checkout_request bytea,
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL,
    CHECK ((status = 'checked_out') = (order_id IS NOT NULL))
);
CREATE INDEX carts_customer_idx ON carts (customer_id, id);
ALTER TABLE carts ENABLE ROW LEVEL SECURITY;
ALTER TABLE carts FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON carts
    USING (tenant_id = olympus_current_tenant())
    WITH CHECK (tenant_id = olympus_current_tenant());
GRANT SELECT, INSERT, UPDATE ON carts TO olympus_app;

CREATE TABLE cart_items (
    cart_id    uuid NOT NULL REFERENCES carts (id) ON DELETE CASCADE,
    tenant_id  uuid NOT NULL REFERENCES tenants (id),
    variant_id uuid NOT NULL REFERENCES product_variants (id),
    quantity   bigint NOT NULL CHECK (quantity BETWEEN 1 AND 10000),
    -- Lines read in the order they were added.
    position   integer NOT NULL,
    PRIMARY KEY (cart_id, variant_id)
);
ALTER TABLE cart_items ENABLE ROW LEVEL SECURITY;
ALTER TABLE cart_items FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON cart_items
    USING (tenant_id = olympus_current_tenant())
    WITH CHECK (tenant_id = olympus_current_tenant());
GRANT SELECT, INSERT, UPDATE, DELETE ON cart_items TO olympus_app;

-- Each customer's uses of a promotion: a checkout adds one in the statement
-- that counts the promotion's, only below per_customer_limit (the row
-- locked by the upsert), so concurrent checkouts of one customer never pass
-- it; a cancelled order gives its use back.
CREATE TABLE promotion_customer_uses (
    promotion_id uuid NOT NULL REFERENCES promotions (id),
    customer_id  uuid NOT NULL,
    tenant_id    uuid NOT NULL REFERENCES tenants (id),
    uses         integer NOT NULL CHECK (uses >= 0),
    PRIMARY KEY (promotion_id, customer_id)
);
ALTER TABLE promotion_customer_uses ENABLE ROW LEVEL SECURITY;
ALTER TABLE promotion_customer_uses FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON promotion_customer_uses
    USING (tenant_id = olympus_current_tenant())
    WITH CHECK (tenant_id = olympus_current_tenant());
GRANT SELECT, INSERT, UPDATE ON promotion_customer_uses TO olympus_app;

-- The promotion an order used, whose use a cancel gives back.
ALTER TABLE orders ADD COLUMN promotion_id uuid;
