-- Promotions (contract §5 commerce, revision 3): codes that take a
-- percentage or a fixed amount off a cart's subtotal, within their dates,
-- minimum and limits. `times_used` counts the orders that use a code; the
-- table refuses a count past `usage_limit` whatever the code does, as
-- `CHECK (stock >= 0)` refuses overselling.
CREATE TABLE promotions (
    id                 uuid PRIMARY KEY,
    tenant_id          uuid NOT NULL REFERENCES tenants (id),
    -- Upper case: codes match case-insensitively.
    code               text NOT NULL CHECK (code ~ '^[A-Z0-9-]{3,32}$'),
    kind               text NOT NULL CHECK (kind IN ('percentage', 'fixed_amount')),
    percent            integer CHECK (percent BETWEEN 1 AND 100),
    amount             bigint CHECK (amount > 0),
    min_subtotal       bigint CHECK (min_subtotal >= 0),
    -- The currency of amount and min_subtotal; NULL when it has neither
    -- (a percentage that applies in any currency).
    currency           text CHECK (currency ~ '^[A-Z]{3}$'),
    starts_at          timestamptz,
    ends_at            timestamptz,
    usage_limit        integer CHECK (usage_limit >= 1),
    per_customer_limit integer CHECK (per_customer_limit >= 1),
    times_used         integer NOT NULL DEFAULT 0,
    status             text NOT NULL CHECK (status IN ('active', 'disabled')),
    created_at         timestamptz NOT NULL,
    updated_at         timestamptz NOT NULL,
    CONSTRAINT promotions_tenant_code_key UNIQUE (tenant_id, code),
    CHECK ((kind = 'percentage') = (percent IS NOT NULL)),
    CHECK ((kind = 'fixed_amount') = (amount IS NOT NULL)),
    CHECK ((amount IS NULL AND min_subtotal IS NULL) = (currency IS NULL)),
    CHECK (ends_at IS NULL OR starts_at IS NULL OR ends_at > starts_at),
    CONSTRAINT promotions_usage_limit CHECK (times_used >= 0
        AND (usage_limit IS NULL OR times_used <= usage_limit))
);
CREATE INDEX promotions_tenant_id_idx ON promotions (tenant_id, id);
ALTER TABLE promotions ENABLE ROW LEVEL SECURITY;
ALTER TABLE promotions FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON promotions
    USING (tenant_id = olympus_current_tenant())
    WITH CHECK (tenant_id = olympus_current_tenant());
GRANT SELECT, INSERT, UPDATE ON promotions TO olympus_app;
