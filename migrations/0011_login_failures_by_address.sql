-- Failed logins per client address (X-Client-Ip), for the limit of failed
-- logins per address and minute (workers/auth/src/address_limit.rs). Not
-- tenant data: one address fails against every tenant alike. Pruned by
-- the relay.
CREATE TABLE login_failures (
    ip        text NOT NULL,
    failed_at timestamptz NOT NULL
);
CREATE INDEX login_failures_ip_idx ON login_failures (ip, failed_at);
GRANT SELECT, INSERT ON login_failures TO olympus_app;
