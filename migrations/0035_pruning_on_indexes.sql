-- The relay's housekeeping on indexes (issue 34): every minute it deletes
-- what is past its retention, and each statement then reads only that,
-- not its whole table. The others had their index already (outbox,
-- idempotency keys, audit events, MFA challenges, TOTP enrollments, email
-- changes); these three read every row, every minute: a million sessions
-- took most of a second.
CREATE INDEX sessions_ended_idx ON sessions (least(revoked_at, expires_at));
CREATE INDEX login_failures_failed_at_idx ON login_failures (failed_at);
CREATE INDEX mail_log_sent_at_idx ON mail_log (sent_at);
