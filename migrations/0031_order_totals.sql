-- Orders gain their subtotal, discount and promotion code, and the cart a
-- checkout made them from (contract §5 commerce, revision 3): total =
-- subtotal - discount. No rewrite: an order stored before has no
-- subtotal_amount, read as total + discount (its discount is 0).
ALTER TABLE orders
    ADD COLUMN cart_id uuid,
    ADD COLUMN subtotal_amount bigint,
    ADD COLUMN discount_amount bigint NOT NULL DEFAULT 0,
    ADD COLUMN promotion_code text,
    ADD CONSTRAINT orders_totals_check CHECK (
        discount_amount >= 0
        AND (subtotal_amount IS NULL OR total_amount = subtotal_amount - discount_amount));
