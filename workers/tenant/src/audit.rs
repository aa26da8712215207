//! `tenant.audit.list` (owners and admins): the tenant's audit log, its
//! events newest first (contract §5, revision 3).
//!
//! The log is the `audit_events` table, written with each event's outbox
//! row by `olympus_outbox_record`, in the same transaction
//! (`migrations/0027_audit_log.sql`), and kept `OLYMPUS_AUDIT_RETENTION_DAYS`
//! whatever the events stream keeps. It is read in the caller's tenant,
//! under row-level security: never another tenant's events. Pages go by
//! event id (UUIDv7), newest first, so events recorded while someone pages
//! appear before the first page, never in a later one.

use olympus_contracts::event::Envelope;
use olympus_contracts::shapes::Page;
use olympus_contracts::tenant::AuditListRequest;
use olympus_runtime::error::Validation;
use olympus_runtime::outbox::Prune;
use olympus_runtime::pages::Pager;
use olympus_runtime::{Config, Ctx, Error};
use uuid::Uuid;

/// What the relay prunes of the log: events older than the retention.
pub fn housekeeping(config: &Config) -> Prune {
    Prune {
        what: "audit log events past their retention",
        statement: "DELETE FROM audit_events
                     WHERE occurred_at < now() - make_interval(secs => $1)",
        retention: config.audit_retention(),
    }
}

/// How much earlier than its time an event recorded before event ids
/// carried their event's time may have had its id made (they were made
/// microseconds before it, on the same clock).
const ID_SLACK: chrono::TimeDelta = chrono::TimeDelta::hours(1);

/// Handles `tenant.audit.list`.
pub async fn list(ctx: Ctx, request: AuditListRequest) -> Result<Page<Envelope>, Error> {
    if let (Some(since), Some(until)) = (request.since, request.until) {
        if since >= until {
            return Err(Validation::failed("until", ["must be after since"]));
        }
    }
    let event_type = request.event_type.map(|t| t.as_str());
    // The filter is part of the cursor: a cursor of another filter is
    // refused rather than answering a page of something else.
    let filter = format!(
        "type={};actor={};since={};until={}",
        event_type.unwrap_or(""),
        request.actor_id.map(|a| a.to_string()).unwrap_or_default(),
        request.since.map(|t| t.to_rfc3339()).unwrap_or_default(),
        request.until.map(|t| t.to_rfc3339()).unwrap_or_default(),
    );
    let pager = Pager::new(
        &ctx.request().operation,
        ctx.claims()?.tid,
        &filter,
        request.limit,
        request.cursor.as_deref(),
    )?;
    // One statement per leading filter, each on its index: the type's,
    // the actor's, or the tenant's by id. (One statement with every filter
    // optional is planned once for all of them, and reads the tenant's
    // events newest first, filtering.) A time range alone reads the
    // tenant's events by id from the range's end down to its start.
    // A time range also bounds the ids (UUIDv7 of the events' times), so
    // that a range long ago is read from its end, not from the newest
    // event down, and stops at its start.
    let ids_before = request
        .until
        .map_or(Uuid::max(), olympus_contracts::event::ids_before);
    let ids_from = request.since.map_or(Uuid::nil(), |since| {
        olympus_contracts::event::ids_from(since, ID_SLACK)
    });
    let query = match (event_type, request.actor_id) {
        (Some(_), _) => sqlx::query_scalar(
            "SELECT envelope::text FROM audit_events
              WHERE type = $2 AND id < $1
                AND id < $7 AND id >= $8
                AND ($3::uuid IS NULL OR actor_id = $3)
                AND ($4::timestamptz IS NULL OR occurred_at >= $4)
                AND ($5::timestamptz IS NULL OR occurred_at < $5)
              ORDER BY id DESC LIMIT $6",
        ),
        (None, Some(_)) => sqlx::query_scalar(
            "SELECT envelope::text FROM audit_events
              WHERE actor_id = $3 AND id < $1
                AND id < $7 AND id >= $8
                AND ($2::text IS NULL OR type = $2)
                AND ($4::timestamptz IS NULL OR occurred_at >= $4)
                AND ($5::timestamptz IS NULL OR occurred_at < $5)
              ORDER BY id DESC LIMIT $6",
        ),
        (None, None) => sqlx::query_scalar(
            "SELECT envelope::text FROM audit_events
              WHERE id < $1
                AND id < $7 AND id >= $8
                AND ($2::text IS NULL OR type = $2)
                AND ($3::uuid IS NULL OR actor_id = $3)
                AND ($4::timestamptz IS NULL OR occurred_at >= $4)
                AND ($5::timestamptz IS NULL OR occurred_at < $5)
              ORDER BY id DESC LIMIT $6",
        ),
    };
    // The cursor is a value, never `coalesce($1, ...)`: under row-level
    // security an expression that is not leakproof is no index condition,
    // and a deep page read every newer event of the tenant (263 ms).
    let rows: Vec<String> = query
        .bind(pager.last().unwrap_or(Uuid::max()))
        .bind(event_type)
        .bind(request.actor_id)
        .bind(request.since)
        .bind(request.until)
        .bind(pager.fetch())
        .bind(ids_before)
        .bind(ids_from)
        .fetch_all(&mut *ctx.tx().await?)
        .await?;
    pager.page_of(
        rows,
        |text| {
            serde_json::from_str(&text).map_err(|e| {
                Error::internal(anyhow::anyhow!("an audit log row is not an envelope: {e}"))
            })
        },
        |e: &Envelope| e.id,
    )
}
