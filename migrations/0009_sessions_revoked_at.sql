-- Every process reads the sessions revoked since its last look, four
-- times a second (workers/runtime/src/revocation.rs).
CREATE INDEX sessions_revoked_at_idx ON sessions (revoked_at) WHERE revoked_at IS NOT NULL;
