-- Outbox rows that JetStream refuses for good (too large for the server,
-- an invalid subject), parked by the relay so that the rows behind them
-- keep flowing (workers/runtime/src/outbox/dead_letters.rs). An operator
-- lists them and re-queues one with `olympus events dead-letters`.
CREATE TABLE outbox_dead_letters (
    -- The row's place in the outbox when it was parked.
    seq            bigint PRIMARY KEY,
    id             uuid NOT NULL CONSTRAINT outbox_dead_letters_id_key UNIQUE,
    tenant_id      uuid NOT NULL REFERENCES tenants (id),
    aggregate_id   uuid NOT NULL,
    kind           text NOT NULL,
    subject        text NOT NULL,
    correlation_id text NOT NULL,
    traceparent    text,
    payload        bytea NOT NULL,
    created_at     timestamptz NOT NULL,
    error          text NOT NULL,
    parked_at      timestamptz NOT NULL DEFAULT now()
);

-- Only the owner (the relay, operators) reads or writes it.
ALTER TABLE outbox_dead_letters ENABLE ROW LEVEL SECURITY;
ALTER TABLE outbox_dead_letters FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON outbox_dead_letters
    USING (tenant_id = olympus_current_tenant())
    WITH CHECK (tenant_id = olympus_current_tenant());
