-- Idempotency keys per caller (contract revision 3, section 6): a key runs
-- at most once per (tenant, caller, operation, key), the caller being the
-- access token's user, and a stored reply goes back only to the caller
-- whose request made it. Before, keys were per tenant, so one member's
-- retry could read another member's stored reply (their order, address
-- and phone), and an admin's stored `forbidden` was replayed to the owner.
--
-- Rows stored before this migration name no caller (NULL): they answer any
-- retry `idempotency_key_reused` until they expire (a day), since nobody
-- can tell whose they were.
ALTER TABLE idempotency_keys ADD COLUMN caller_id uuid;
ALTER TABLE idempotency_keys DROP CONSTRAINT idempotency_keys_pkey;
CREATE UNIQUE INDEX idempotency_keys_caller_key
    ON idempotency_keys (tenant_id, operation, key, caller_id) NULLS NOT DISTINCT;
