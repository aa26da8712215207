-- Email change (contract §5, revision 3): a request's token, mailed only to
-- the new address, stored as its SHA-256; 24 hours, single use. One
-- pending change per user: a new request replaces it. The session that
-- asked stays when the change is confirmed; every other ends.
CREATE TABLE email_changes (
    id          uuid PRIMARY KEY,
    tenant_id   uuid NOT NULL REFERENCES tenants (id),
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    new_email   text NOT NULL,
    session_id  uuid,
    token_hash  bytea NOT NULL CONSTRAINT email_changes_token_hash_key UNIQUE,
    created_at  timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz
);
CREATE UNIQUE INDEX email_changes_pending_user_key ON email_changes (user_id)
    WHERE used_at IS NULL;
CREATE INDEX email_changes_expires_idx ON email_changes (expires_at);
ALTER TABLE email_changes ENABLE ROW LEVEL SECURITY;
ALTER TABLE email_changes FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON email_changes
    USING (tenant_id = olympus_current_tenant())
    WITH CHECK (tenant_id = olympus_current_tenant());
GRANT SELECT, INSERT, UPDATE, DELETE ON email_changes TO olympus_app;
