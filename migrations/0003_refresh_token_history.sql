-- Every refresh token a session has rotated away, so that presenting any of
-- them after the grace period (not only the last one) revokes the session.
CREATE TABLE rotated_refresh_tokens (
    token_hash bytea PRIMARY KEY,
    tenant_id  uuid NOT NULL REFERENCES tenants (id),
    session_id uuid NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    rotated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX rotated_refresh_tokens_session_idx ON rotated_refresh_tokens (session_id);

ALTER TABLE rotated_refresh_tokens ENABLE ROW LEVEL SECURITY;
ALTER TABLE rotated_refresh_tokens FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON rotated_refresh_tokens
    USING (tenant_id = olympus_current_tenant())
    WITH CHECK (tenant_id = olympus_current_tenant());
GRANT SELECT, INSERT ON rotated_refresh_tokens TO olympus_app;

-- Replaced by the table above.
DROP INDEX sessions_previous_refresh_hash_idx;
ALTER TABLE sessions DROP COLUMN previous_refresh_hash;
