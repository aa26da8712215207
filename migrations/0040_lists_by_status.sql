-- A page of one status by index (issue 34): `commerce.orders.list` of an
-- owner or admin and `commerce.products.list` without a search term,
-- filtered by status, read the tenant's rows in id order until a page of
-- that status turned up; for a status rare in a big tenant (the cancelled
-- orders among 50,000), most of them. Each now has a statement of its own
-- on these indexes, in id order within the status.
--
-- The price: an order's status is now in an index, so a change of status
-- (a payment, a fulfilment) writes a new entry in each of the order's
-- indexes where it wrote none (a heap-only update) before.
CREATE INDEX orders_status_idx ON orders (tenant_id, status, id);
CREATE INDEX products_status_idx ON products (tenant_id, status, id);
