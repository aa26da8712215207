//! Dead letters: outbox rows JetStream will never accept as they are.
//!
//! The relay moves such a row here with the error ([`park`]) instead of
//! retrying it forever, which would stop every event and mail behind it.
//! Nothing is lost: an operator lists the parked rows ([`list`], `olympus
//! events dead-letters`) and, once the cause is fixed (say, the server's
//! `max_payload` raised), puts one back at the end of the outbox
//! ([`requeue`]); it is published like any new row, and parked again if it
//! still cannot be.

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::CHANNEL;

/// A parked row, without its payload (which may hold a mail's token).
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct DeadLetter {
    pub seq: i64,
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub kind: String,
    pub subject: String,
    pub correlation_id: String,
    pub payload_bytes: i32,
    pub error: String,
    pub created_at: DateTime<Utc>,
    pub parked_at: DateTime<Utc>,
}

/// Moves the outbox row `seq` to the dead letters with `error`, on the
/// relay's (owner) connection.
pub async fn park(conn: &mut PgConnection, seq: i64, error: &str) -> anyhow::Result<()> {
    sqlx::query(
        "WITH parked AS (DELETE FROM outbox WHERE seq = $1 RETURNING *)
         INSERT INTO outbox_dead_letters
                (seq, id, tenant_id, aggregate_id, kind, subject, correlation_id,
                 traceparent, payload, created_at, error)
         SELECT seq, id, tenant_id, aggregate_id, kind, subject, correlation_id,
                traceparent, payload, created_at, $2
           FROM parked",
    )
    .bind(seq)
    .bind(error)
    .execute(conn)
    .await
    .with_context(|| format!("parking outbox row {seq}"))?;
    Ok(())
}

/// Every parked row, oldest first.
pub async fn list(pool: &PgPool) -> anyhow::Result<Vec<DeadLetter>> {
    sqlx::query_as(
        "SELECT seq, id, tenant_id, kind, subject, correlation_id,
                length(payload) AS payload_bytes, error, created_at, parked_at
           FROM outbox_dead_letters ORDER BY seq",
    )
    .fetch_all(pool)
    .await
    .context("listing the dead letters")
}

/// Puts the parked row `id` back at the end of the outbox and wakes the
/// relay; false when there is no such row.
pub async fn requeue(pool: &PgPool, id: Uuid) -> anyhow::Result<bool> {
    let moved = sqlx::query(
        "WITH back AS (DELETE FROM outbox_dead_letters WHERE id = $1 RETURNING *),
              inserted AS (
                 INSERT INTO outbox
                        (id, tenant_id, aggregate_id, kind, subject, correlation_id,
                         traceparent, payload, created_at)
                 SELECT id, tenant_id, aggregate_id, kind, subject, correlation_id,
                        traceparent, payload, created_at
                   FROM back
                 RETURNING id)
         SELECT count(*) FROM inserted, pg_notify($2, '')",
    )
    .bind(id)
    .bind(CHANNEL)
    .fetch_one(pool)
    .await
    .with_context(|| format!("re-queueing dead letter {id}"))?;
    let count: i64 = sqlx::Row::try_get(&moved, 0)?;
    Ok(count > 0)
}
