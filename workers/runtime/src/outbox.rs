//! The transactional outbox: events (and mail) exist if and only if their
//! change committed, reach JetStream once, in order per aggregate.
//!
//! **Recording.** A handler records what happened in the transaction that
//! changes the data: `app.events(&meta).emit(&mut tx, Event::new(...))`.
//! The row commits or rolls back with the change. Each insert first takes a
//! transaction-level advisory lock on the event's aggregate, so rows of one
//! aggregate get their `seq` in commit order, and it `NOTIFY`s the relay,
//! which Postgres delivers at commit.
//!
//! **Relaying.** Every `olympus serve` process runs a [`Relay`]; one of them
//! at a time leads, holding a session advisory lock on its own connection
//! (a killed leader's connection closes, its lock goes, a standby takes
//! over within a second). The leader publishes unpublished rows in `seq`
//! order, one acknowledged JetStream publish at a time, with `Nats-Msg-Id`
//! = the row's id, then marks them published. A crash between publish and
//! mark re-publishes on takeover, and JetStream's duplicate window drops the
//! copy. It wakes on `NOTIFY`, with a slow poll as a safety net, and prunes
//! published rows after the retention period.

use anyhow::Context as _;
use async_nats::jetstream::{self, stream};
use async_nats::HeaderMap;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use olympus_contracts::event::{Envelope, EventType, Mail, MailTemplate, SCHEMA_VERSION};
use olympus_contracts::{headers, Subjects};
use serde::Serialize;
use sqlx::postgres::PgListener;
use sqlx::{Connection, PgConnection, PgPool};
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::call::Meta;
use crate::error::Error;

/// The `NOTIFY` channel that wakes the relay.
pub const CHANNEL: &str = "olympus_outbox";

/// The session advisory lock held by the leading relay.
const LEADER_LOCK: i64 = 0x6f6c_796d_7075_7301; // "olympus" + 1

/// Rows published per round trip.
const BATCH: i64 = 100;

/// How often a sleeping leader looks anyway, and a standby tries to lead.
const POLL: Duration = Duration::from_secs(1);

/// An event to record.
#[derive(Debug, Clone)]
pub struct Event {
    event_type: EventType,
    tenant_id: Uuid,
    aggregate_id: Uuid,
    data: serde_json::Value,
}

impl Event {
    /// `event_type` about `aggregate_id` (the user, tenant, order... whose
    /// events must stay in order) of `tenant_id`, with its `data`.
    pub fn new(
        event_type: EventType,
        tenant_id: Uuid,
        aggregate_id: Uuid,
        data: impl Serialize,
    ) -> Self {
        Self {
            event_type,
            tenant_id,
            aggregate_id,
            data: serde_json::to_value(data).unwrap_or(serde_json::Value::Null),
        }
    }
}

/// Records events and mail for one request: carries its correlation id and
/// actor into every envelope.
#[derive(Debug, Clone)]
pub struct Events<'a> {
    subjects: &'a Subjects,
    correlation_id: &'a str,
    traceparent: Option<&'a str>,
    actor_id: Option<Uuid>,
}

impl<'a> Events<'a> {
    /// Events of the request described by `meta`.
    pub fn new(subjects: &'a Subjects, meta: &'a Meta) -> Self {
        Self {
            subjects,
            correlation_id: &meta.correlation_id,
            traceparent: meta.traceparent.as_deref(),
            actor_id: meta.claims.as_ref().map(|c| c.sub),
        }
    }

    /// Overrides the actor (e.g. the user who just logged in).
    pub fn actor(mut self, actor_id: Uuid) -> Self {
        self.actor_id = Some(actor_id);
        self
    }

    /// Records an event in `conn`'s transaction (tenant-scoped).
    pub async fn emit(&self, conn: &mut PgConnection, event: Event) -> Result<Uuid, Error> {
        let envelope = Envelope {
            id: Uuid::now_v7(),
            event_type: event.event_type,
            tenant_id: event.tenant_id,
            occurred_at: Utc::now(),
            correlation_id: self.correlation_id.to_owned(),
            actor_id: self.actor_id,
            schema_version: SCHEMA_VERSION,
            data: event.data,
        };
        let subject = self
            .subjects
            .event(event.tenant_id, event.event_type.as_str());
        let payload = serde_json::to_vec(&envelope).map_err(Error::internal)?;
        insert(
            conn,
            Row {
                id: envelope.id,
                tenant_id: event.tenant_id,
                aggregate_id: event.aggregate_id,
                kind: "event",
                subject: &subject,
                correlation_id: self.correlation_id,
                traceparent: self.traceparent,
                payload: &payload,
            },
        )
        .await?;
        Ok(envelope.id)
    }

    /// Records a mail for the mailer, in `conn`'s transaction.
    pub async fn mail(&self, conn: &mut PgConnection, new: NewMail<'_>) -> Result<Uuid, Error> {
        let NewMail {
            template,
            to,
            tenant_id,
            user_id,
            token,
            expires_at,
        } = new;
        let mail = Mail {
            id: Uuid::now_v7(),
            template,
            to: to.to_owned(),
            tenant_id,
            user_id,
            token: olympus_contracts::Secret::new(token),
            expires_at,
            correlation_id: self.correlation_id.to_owned(),
        };
        let subject = self.subjects.mail(tenant_id, template.as_str());
        let payload = serde_json::to_vec(&mail).map_err(Error::internal)?;
        insert(
            conn,
            Row {
                id: mail.id,
                tenant_id,
                aggregate_id: user_id,
                kind: "mail",
                subject: &subject,
                correlation_id: self.correlation_id,
                traceparent: self.traceparent,
                payload: &payload,
            },
        )
        .await?;
        Ok(mail.id)
    }
}

/// A mail to record: who gets which template with which token.
#[derive(Debug)]
pub struct NewMail<'a> {
    pub template: MailTemplate,
    pub to: &'a str,
    pub tenant_id: Uuid,
    pub user_id: Uuid,
    /// The secret: it travels only in the mail message.
    pub token: &'a str,
    pub expires_at: DateTime<Utc>,
}

struct Row<'a> {
    id: Uuid,
    tenant_id: Uuid,
    aggregate_id: Uuid,
    kind: &'static str,
    subject: &'a str,
    correlation_id: &'a str,
    traceparent: Option<&'a str>,
    payload: &'a [u8],
}

async fn insert(conn: &mut PgConnection, row: Row<'_>) -> Result<(), Error> {
    sqlx::query(
        "WITH serialized AS (
             SELECT pg_advisory_xact_lock(hashtextextended($3::text, 0)),
                    pg_notify($8, '')
         )
         INSERT INTO outbox (id, tenant_id, aggregate_id, kind, subject, correlation_id, payload, traceparent)
         SELECT $1, $2, $3, $4, $5, $6, $7, $9 FROM serialized",
    )
    .bind(row.id)
    .bind(row.tenant_id)
    .bind(row.aggregate_id)
    .bind(row.kind)
    .bind(row.subject)
    .bind(row.correlation_id)
    .bind(row.payload)
    .bind(CHANNEL)
    .bind(row.traceparent)
    .execute(conn)
    .await?;
    Ok(())
}

/// Stream settings.
#[derive(Debug, Clone)]
pub struct StreamSettings {
    /// How long the events stream keeps events.
    pub events_max_age: Duration,
}

/// The duplicate window of both streams: a re-published row within it is
/// dropped by JetStream.
pub const DUPLICATE_WINDOW: Duration = Duration::from_secs(120);

/// Creates or updates `{PREFIX}_EVENTS` and `{PREFIX}_MAIL`.
pub async fn ensure_streams(
    js: &jetstream::Context,
    subjects: &Subjects,
    settings: &StreamSettings,
) -> anyhow::Result<()> {
    let streams = [
        stream::Config {
            name: subjects.events_stream(),
            description: Some("Olympus domain events".to_owned()),
            subjects: vec![subjects.events_wildcard()],
            retention: stream::RetentionPolicy::Limits,
            storage: stream::StorageType::File,
            max_age: settings.events_max_age,
            duplicate_window: DUPLICATE_WINDOW,
            ..Default::default()
        },
        stream::Config {
            name: subjects.mail_stream(),
            description: Some("Olympus mail for the mailer".to_owned()),
            subjects: vec![subjects.mail_wildcard()],
            retention: stream::RetentionPolicy::WorkQueue,
            storage: stream::StorageType::File,
            max_age: Duration::from_secs(7 * 24 * 3600),
            duplicate_window: DUPLICATE_WINDOW,
            ..Default::default()
        },
    ];
    for config in streams {
        let name = config.name.clone();
        js.create_or_update_stream(config)
            .await
            .map_err(|e| anyhow::anyhow!("creating or updating stream {name}: {e}"))?;
    }
    Ok(())
}

/// The relay of one process (see the module documentation).
#[derive(Debug, Clone)]
pub struct Relay {
    pool: PgPool,
    js: jetstream::Context,
    retention: Duration,
}

/// An outbox row on its way to JetStream.
#[derive(sqlx::FromRow)]
struct Outgoing {
    seq: i64,
    id: Uuid,
    subject: String,
    correlation_id: String,
    traceparent: Option<String>,
    payload: Vec<u8>,
}

/// Closes a relay connection, releasing the lock if it held it.
async fn close(conn: Option<PgConnection>) -> Option<PgConnection> {
    if let Some(conn) = conn {
        conn.close().await.ok();
    }
    None
}

/// A failure that ends leadership (Postgres) or merely pauses it (NATS).
enum Stop {
    Database(anyhow::Error),
    Nats(anyhow::Error),
}

impl Relay {
    /// A relay publishing through `nats`, pruning published rows older
    /// than `retention`.
    pub fn new(pool: PgPool, nats: async_nats::Client, retention: Duration) -> Self {
        let mut js = jetstream::new(nats);
        js.set_timeout(Duration::from_secs(5));
        Self {
            pool,
            js,
            retention,
        }
    }

    /// Runs until `shutdown`: stands by, leads when it can.
    pub async fn run(self, shutdown: CancellationToken) {
        // One connection: the standby's polling and, once it has the lock,
        // the leader's queries. Closing it releases the lock.
        let mut conn: Option<PgConnection> = None;
        while !shutdown.is_cancelled() {
            if conn.is_none() {
                match PgConnection::connect_with(&self.pool.connect_options()).await {
                    Ok(c) => conn = Some(c),
                    Err(err) => {
                        tracing::warn!(error = %err, "outbox relay: cannot connect to Postgres")
                    }
                }
            }
            if let Some(c) = conn.as_mut() {
                match self.try_lead(c, &shutdown).await {
                    // Still a standby: keep the connection for the next try.
                    Ok(false) => {}
                    Ok(true) => conn = close(conn.take()).await,
                    Err(err) => {
                        tracing::warn!(error = format!("{err:#}"), "outbox relay: stepping down");
                        conn = close(conn.take()).await;
                    }
                }
            }
            tokio::select! {
                _ = shutdown.cancelled() => {}
                _ = tokio::time::sleep(POLL) => {}
            }
        }
        close(conn).await;
    }

    /// Leads while the lock is ours and returns `Ok(true)` when done;
    /// `Ok(false)` when another process leads.
    async fn try_lead(
        &self,
        conn: &mut PgConnection,
        shutdown: &CancellationToken,
    ) -> anyhow::Result<bool> {
        let leader: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
            .bind(LEADER_LOCK)
            .fetch_one(&mut *conn)
            .await
            .context("trying the relay lock")?;
        if !leader {
            return Ok(false);
        }
        tracing::info!("outbox relay: leading");
        self.lead(conn, shutdown).await?;
        Ok(true)
    }

    async fn lead(
        &self,
        conn: &mut PgConnection,
        shutdown: &CancellationToken,
    ) -> anyhow::Result<()> {
        let mut listener = PgListener::connect_with(&self.pool)
            .await
            .context("listening for outbox notifications")?;
        listener.listen(CHANNEL).await?;
        let mut backoff = Duration::from_millis(100);
        let mut last_prune = tokio::time::Instant::now() - Duration::from_secs(3600);
        loop {
            let full = match self.publish_batch(conn).await {
                Ok(count) => {
                    backoff = Duration::from_millis(100);
                    count == BATCH as usize
                }
                Err(Stop::Database(err)) => return Err(err),
                Err(Stop::Nats(err)) => {
                    tracing::warn!(
                        error = format!("{err:#}"),
                        retry_in_ms = backoff.as_millis() as u64,
                        "outbox relay: cannot publish"
                    );
                    tokio::select! {
                        _ = shutdown.cancelled() => return Ok(()),
                        _ = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(1));
                    continue;
                }
            };
            if last_prune.elapsed() > Duration::from_secs(60) {
                self.prune(conn).await?;
                last_prune = tokio::time::Instant::now();
            }
            if shutdown.is_cancelled() {
                return Ok(());
            }
            if full {
                continue;
            }
            tokio::select! {
                _ = shutdown.cancelled() => return Ok(()),
                notification = listener.recv() => { notification.context("outbox notifications")?; }
                _ = tokio::time::sleep(POLL) => {}
            }
        }
    }

    /// Publishes up to [`BATCH`] rows in order; returns how many.
    async fn publish_batch(&self, conn: &mut PgConnection) -> Result<usize, Stop> {
        let rows: Vec<Outgoing> = sqlx::query_as(
            "SELECT seq, id, subject, correlation_id, traceparent, payload FROM outbox
              WHERE published_at IS NULL ORDER BY seq LIMIT $1",
        )
        .bind(BATCH)
        .fetch_all(&mut *conn)
        .await
        .map_err(|e| Stop::Database(e.into()))?;
        let mut published = Vec::with_capacity(rows.len());
        let mut failure = None;
        for row in rows {
            let seq = row.seq;
            match self.publish(row).await {
                Ok(()) => published.push(seq),
                Err(err) => {
                    failure = Some(err);
                    break;
                }
            }
        }
        if !published.is_empty() {
            // Mail carries a token: once it is on the stream, the row keeps none.
            sqlx::query(
                "UPDATE outbox SET published_at = now(),
                        payload = CASE WHEN kind = 'mail' THEN ''::bytea ELSE payload END
                  WHERE seq = ANY($1)",
            )
            .bind(&published)
            .execute(&mut *conn)
            .await
            .map_err(|e| Stop::Database(e.into()))?;
        }
        match failure {
            Some(err) => Err(Stop::Nats(err)),
            None => Ok(published.len()),
        }
    }

    async fn publish(&self, message: Outgoing) -> anyhow::Result<()> {
        let Outgoing {
            seq: _,
            id,
            subject,
            correlation_id,
            traceparent,
            payload,
        } = message;
        let mut headers = HeaderMap::new();
        headers.insert(headers::NATS_MSG_ID, id.to_string());
        headers.insert(
            headers::CONTENT_TYPE,
            olympus_contracts::event::CONTENT_TYPE,
        );
        headers.insert(headers::CORRELATION_ID, correlation_id);
        if let Some(traceparent) = traceparent {
            headers.insert(headers::TRACEPARENT, traceparent);
        }
        let ack = self
            .js
            .publish_with_headers(subject.clone(), headers, Bytes::from(payload))
            .await
            .with_context(|| format!("publishing to {subject}"))?
            .await
            .with_context(|| format!("no acknowledgement for {subject}"))?;
        if ack.duplicate {
            tracing::debug!(%id, "outbox relay: already in the stream");
        }
        Ok(())
    }

    async fn prune(&self, conn: &mut PgConnection) -> anyhow::Result<()> {
        let pruned = sqlx::query(
            "DELETE FROM outbox WHERE published_at < now() - make_interval(secs => $1)",
        )
        .bind(self.retention.as_secs_f64())
        .execute(conn)
        .await
        .context("pruning the outbox")?
        .rows_affected();
        if pruned > 0 {
            tracing::info!(pruned, "outbox relay: pruned published rows");
        }
        Ok(())
    }
}
