-- Idempotency keys (contract §6; workers/runtime/src/idempotency.rs): the
-- reply of the first request with a key, stored in the transaction of its
-- change, per (tenant, operation, key), for 24 hours. `reply` is the reply
-- as JSON (re-encoded for each retry), or the error body when `status` is
-- not 200. Pruned by the relay after a day.
CREATE TABLE idempotency_keys (
    tenant_id   uuid NOT NULL REFERENCES tenants (id),
    operation   text NOT NULL,
    key         text NOT NULL,
    fingerprint bytea NOT NULL,
    status      smallint NOT NULL,
    reply       jsonb NOT NULL,
    created_at  timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, operation, key)
);
CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created_at);
ALTER TABLE idempotency_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE idempotency_keys FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON idempotency_keys
    USING (tenant_id = olympus_current_tenant())
    WITH CHECK (tenant_id = olympus_current_tenant());
GRANT SELECT, INSERT, UPDATE ON idempotency_keys TO olympus_app;
