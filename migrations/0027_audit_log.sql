-- The tenant's audit log (contract §5 tenant `audit.list`, revision 3):
-- every event, kept for OLYMPUS_AUDIT_RETENTION_DAYS (365) whatever the
-- JetStream stream and the outbox keep. A row is written by the function
-- that records the event in the outbox, in the same transaction: an event
-- is in the log if and only if its change committed, and no code path can
-- record an event and forget the log. The envelope is stored as JSON,
-- with the columns the filters read.
CREATE TABLE audit_events (
    id          uuid PRIMARY KEY,
    tenant_id   uuid NOT NULL REFERENCES tenants (id),
    type        text NOT NULL,
    actor_id    uuid,
    occurred_at timestamptz NOT NULL,
    envelope    jsonb NOT NULL
);
-- Newest first, by id (UUIDv7): pages by key, stable under inserts.
CREATE INDEX audit_events_tenant_idx ON audit_events (tenant_id, id);
CREATE INDEX audit_events_type_idx ON audit_events (tenant_id, type, id);
CREATE INDEX audit_events_actor_idx ON audit_events (tenant_id, actor_id, id);
CREATE INDEX audit_events_occurred_idx ON audit_events (occurred_at);
ALTER TABLE audit_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_events FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON audit_events
    USING (tenant_id = olympus_current_tenant())
    WITH CHECK (tenant_id = olympus_current_tenant());
GRANT SELECT, INSERT ON audit_events TO olympus_app;

-- Every event the workers record goes through olympus_outbox_record
-- (migration 0020; the runtime's Events::emit and the one-statement
-- operations alike), which now writes the log's row too, in the same
-- transaction and scope (row-level security checks its tenant as it checks
-- the outbox row's). Mail rows are not events and stay out.
CREATE OR REPLACE FUNCTION olympus_outbox_record(
        p_id uuid, p_tenant uuid, p_aggregate uuid, p_kind text, p_subject text,
        p_correlation text, p_payload bytea, p_traceparent text, p_channel text)
    RETURNS void
    LANGUAGE plpgsql
    SET search_path = public, pg_temp
    AS $$
    DECLARE
        v jsonb;
    BEGIN
        PERFORM pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtextextended(p_aggregate::text, 0));
        PERFORM pg_catalog.pg_notify(p_channel, '');
        INSERT INTO outbox (id, tenant_id, aggregate_id, kind, subject, correlation_id, payload,
                            traceparent)
        VALUES (p_id, p_tenant, p_aggregate, p_kind, p_subject, p_correlation, p_payload,
                p_traceparent);
        IF p_kind = 'event' THEN
            v := pg_catalog.convert_from(p_payload, 'UTF8')::jsonb;
            INSERT INTO audit_events (id, tenant_id, type, actor_id, occurred_at, envelope)
            VALUES (p_id, p_tenant, v->>'type', (v->>'actor_id')::uuid,
                    (v->>'occurred_at')::timestamptz, v);
        END IF;
    END
    $$;

-- The events still in the outbox (the last day's) start the log.
INSERT INTO audit_events (id, tenant_id, type, actor_id, occurred_at, envelope)
SELECT id, tenant_id, v->>'type', (v->>'actor_id')::uuid, (v->>'occurred_at')::timestamptz, v
  FROM (SELECT id, tenant_id, convert_from(payload, 'UTF8')::jsonb AS v
          FROM outbox WHERE kind = 'event') AS events
ON CONFLICT (id) DO NOTHING;
