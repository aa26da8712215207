-- Password reset tokens (1 hour, single use): only SHA-256 hashes stored.
CREATE TABLE password_resets (
    token_hash bytea PRIMARY KEY,
    tenant_id  uuid NOT NULL REFERENCES tenants (id),
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    used_at    timestamptz
);
CREATE INDEX password_resets_user_idx ON password_resets (tenant_id, user_id);
ALTER TABLE password_resets ENABLE ROW LEVEL SECURITY;
ALTER TABLE password_resets FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON password_resets
    USING (tenant_id = olympus_current_tenant())
    WITH CHECK (tenant_id = olympus_current_tenant());
GRANT SELECT, INSERT, UPDATE ON password_resets TO olympus_app;

-- Every mail queued, per recipient, for the limit of mails per address and
-- hour (workers/runtime/src/outbox/mod.rs); pruned by the relay.
CREATE TABLE mail_log (
    tenant_id uuid NOT NULL REFERENCES tenants (id),
    recipient text NOT NULL,
    sent_at   timestamptz NOT NULL
);
CREATE INDEX mail_log_recipient_idx ON mail_log (tenant_id, recipient, sent_at);
ALTER TABLE mail_log ENABLE ROW LEVEL SECURITY;
ALTER TABLE mail_log FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON mail_log
    USING (tenant_id = olympus_current_tenant())
    WITH CHECK (tenant_id = olympus_current_tenant());
GRANT SELECT, INSERT ON mail_log TO olympus_app;
