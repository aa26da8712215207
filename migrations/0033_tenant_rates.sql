-- A tenant's own request rate (issue 37), set by a platform operator with
-- `olympus admin tenant-rate`: requests a second to each process and the
-- burst above it. NULL: the configured default (OLYMPUS_TENANT_RATE,
-- OLYMPUS_TENANT_BURST); a rate of 0: no limit for this tenant. Every
-- process reads them with the revocations (every 250 ms), so the workers
-- may only read them: no grant of UPDATE to olympus_app.
ALTER TABLE tenants
    ADD COLUMN request_rate  integer CHECK (request_rate BETWEEN 0 AND 1000000),
    ADD COLUMN request_burst integer CHECK (request_burst BETWEEN 1 AND 1000000),
    ADD CONSTRAINT tenants_request_burst_with_rate
        CHECK (request_burst IS NULL OR request_rate IS NOT NULL);

-- What the revocation reads select, every 250 ms in every process: the few
-- flagged tenants, not all of them.
CREATE INDEX tenants_flagged ON tenants (id)
    WHERE status = 'suspended' OR require_mfa OR request_rate IS NOT NULL;
