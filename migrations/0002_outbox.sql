-- The transactional outbox: events and mail written in the same transaction
-- as the change they describe, published to JetStream by the relay
-- (workers/runtime/src/outbox.rs), then pruned after a retention period.

CREATE TABLE outbox (
    -- Publication order. Rows of one aggregate are written under a
    -- transaction-level advisory lock on the aggregate, so their seq order is
    -- their commit order.
    seq          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- The event or mail id (UUIDv7), sent as Nats-Msg-Id.
    id           uuid NOT NULL CONSTRAINT outbox_id_key UNIQUE,
    tenant_id    uuid NOT NULL REFERENCES tenants (id),
    aggregate_id uuid NOT NULL,
    kind         text NOT NULL CHECK (kind IN ('event', 'mail')),
    subject      text NOT NULL,
    correlation_id text NOT NULL,
    -- The JSON message. Mail carries a token: the relay erases mail payloads
    -- once published.
    payload      bytea NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    published_at timestamptz
);
CREATE INDEX outbox_unpublished_idx ON outbox (seq) WHERE published_at IS NULL;
CREATE INDEX outbox_published_at_idx ON outbox (published_at) WHERE published_at IS NOT NULL;

ALTER TABLE outbox ENABLE ROW LEVEL SECURITY;
ALTER TABLE outbox FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON outbox
    USING (tenant_id = olympus_current_tenant())
    WITH CHECK (tenant_id = olympus_current_tenant());
-- Tenants write their events; only the relay reads them, as the owner, which
-- must be superuser or BYPASSRLS (checked by `olympus serve` at start).
GRANT INSERT ON outbox TO olympus_app;

-- Email verification tokens: only SHA-256 hashes are stored.
CREATE TABLE email_verifications (
    token_hash bytea PRIMARY KEY,
    tenant_id  uuid NOT NULL REFERENCES tenants (id),
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    used_at    timestamptz
);
CREATE INDEX email_verifications_user_idx ON email_verifications (tenant_id, user_id);

ALTER TABLE email_verifications ENABLE ROW LEVEL SECURITY;
ALTER TABLE email_verifications FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON email_verifications
    USING (tenant_id = olympus_current_tenant())
    WITH CHECK (tenant_id = olympus_current_tenant());
GRANT SELECT, INSERT, UPDATE ON email_verifications TO olympus_app;
