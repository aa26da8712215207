//! The relay: publishes outbox rows into JetStream, in order, once.
//!
//! Every `olympus serve` process runs a [`Relay`]; one of them at a time
//! leads, holding a session advisory lock on its own connection (a killed
//! leader's connection closes, its lock goes, a standby takes over within a
//! second). The leader publishes unpublished rows in `seq` order with
//! `Nats-Msg-Id` = the row's id, then marks them published. A crash between
//! publish and mark re-publishes on takeover, and JetStream's duplicate
//! window drops the copy. It wakes on `NOTIFY`, with a slow poll as a
//! safety net, and prunes published rows after the retention period.
//!
//! Marks are gathered: an acknowledged row is remembered (and left out of
//! the next reads) and marked with the others at most
//! [`DEFAULT_MARK_DELAY`] later (or as [`Relay::mark_delay`] says), or once
//! [`MARK_MAX`] wait, and on shutdown, in one commit. Each commit waits for
//! its WAL flush, and a mark per wave cost the relay's Postgres backend more
//! CPU than anything else it does; publishing is not delayed by it. A crash
//! loses at most those unmarked rows' marks: they are published again on
//! takeover, within the duplicate window, which drops them.
//!
//! Publishes are pipelined in waves: a wave is the longest run of the next
//! rows (in `seq` order) that holds at most one row per aggregate; all its
//! publishes are sent, then their acknowledgements awaited together. So no
//! two rows of one aggregate are ever in flight at once, and an aggregate's
//! events keep their order whatever fails, while a burst of changes to
//! different aggregates costs one JetStream round trip per wave instead of
//! one per row.
//!
//! A failure is either transient (NATS away, no acknowledgement in time,
//! no stream yet): the leader marks what was acknowledged and retries the
//! rest with a backoff, starting with the failed row, so nothing of its
//! aggregate overtakes it; or permanent (the message is too large for the
//! server, its subject is invalid, JetStream refuses its size): the row is
//! parked in the dead letters with the error ([`super::dead_letters`]),
//! logged, and the relay goes on with the rows behind it.

use anyhow::Context as _;
use async_nats::jetstream;
use async_nats::HeaderMap;
use bytes::Bytes;
use olympus_contracts::headers;
use sqlx::postgres::PgListener;
use sqlx::{Connection, PgConnection, PgPool};
use std::collections::{HashSet, VecDeque};
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::{dead_letters, is_publishable_subject, CHANNEL};

/// The session advisory lock held by the leading relay.
const LEADER_LOCK: i64 = 0x6f6c_796d_7075_7301; // "olympus" + 1

/// Rows read from the outbox per round trip to Postgres.
const BATCH: i64 = 100;

/// How often a sleeping leader looks anyway, and a standby tries to lead.
const POLL: Duration = Duration::from_secs(1);

/// How long an acknowledged row waits, at most, for its mark, by default.
pub const DEFAULT_MARK_DELAY: Duration = Duration::from_millis(100);

/// How many acknowledged rows wait for their mark, at most (checked after
/// each read of up to [`BATCH`] rows).
pub const MARK_MAX: usize = 1_000;

/// Acknowledged rows not yet marked published (see the module
/// documentation).
#[derive(Debug)]
struct Marks {
    seqs: Vec<i64>,
    /// When the oldest of them is to be marked.
    due: Option<tokio::time::Instant>,
    delay: Duration,
}

impl Marks {
    fn new(delay: Duration) -> Self {
        Self {
            seqs: Vec::new(),
            due: None,
            delay,
        }
    }

    fn push(&mut self, seq: i64) {
        self.seqs.push(seq);
        let delay = self.delay;
        self.due
            .get_or_insert_with(|| tokio::time::Instant::now() + delay);
    }

    /// Whether they are to be marked now.
    fn due(&self) -> bool {
        self.seqs.len() >= MARK_MAX
            || self
                .due
                .is_some_and(|due| due <= tokio::time::Instant::now())
    }

    /// Waits until they are due; forever when there are none.
    async fn wait(&self) {
        match self.due {
            Some(due) => tokio::time::sleep_until(due).await,
            None => std::future::pending().await,
        }
    }

    /// Marks them published, in one statement. Mail carries a token: once
    /// it is on the stream, the row keeps none.
    async fn mark(&mut self, conn: &mut PgConnection) -> anyhow::Result<()> {
        if !self.seqs.is_empty() {
            sqlx::query(
                "UPDATE outbox SET published_at = now(),
                        payload = CASE WHEN kind = 'mail' THEN ''::bytea ELSE payload END
                  WHERE seq = ANY($1)",
            )
            .bind(&self.seqs)
            .execute(conn)
            .await
            .context("marking outbox rows published")?;
        }
        self.seqs.clear();
        self.due = None;
        Ok(())
    }
}

/// The relay of one process (see the module documentation).
#[derive(Debug, Clone)]
pub struct Relay {
    pool: PgPool,
    js: jetstream::Context,
    retention: Duration,
    housekeeping: Vec<Prune>,
    mark_delay: Duration,
}

/// A worker's housekeeping, which the leading relay runs with its own
/// pruning: a statement deleting what no rule needs any more from the
/// worker's tables, `$1` being `retention` in seconds. Workers register
/// theirs (the auth worker's ended sessions and failed logins per
/// address), so that the runtime names no worker's table.
#[derive(Debug, Clone)]
pub struct Prune {
    /// What it prunes, for logs: "ended sessions".
    pub what: &'static str,
    pub statement: &'static str,
    pub retention: Duration,
}

/// An outbox row on its way to JetStream.
#[derive(sqlx::FromRow)]
struct Outgoing {
    seq: i64,
    id: Uuid,
    aggregate_id: Uuid,
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

/// Why one row was not published.
enum Failure {
    /// Worth retrying: NATS or JetStream may take it later.
    Transient(anyhow::Error),
    /// It can never be published as it is.
    Permanent(String),
}

/// JetStream's error code for a message over the stream's size limit.
const JS_MESSAGE_SIZE_EXCEEDED: u64 = 10054;

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
            housekeeping: Vec::new(),
            mark_delay: DEFAULT_MARK_DELAY,
        }
    }

    /// How long a published row waits, at most, for its mark (default
    /// [`DEFAULT_MARK_DELAY`]); up to [`MARK_MAX`] rows wait together. A
    /// crash re-publishes the rows still waiting: keep it well inside the
    /// streams' duplicate window.
    pub fn mark_delay(mut self, delay: Duration) -> Self {
        self.mark_delay = delay;
        self
    }

    /// Runs the workers' `housekeeping` with the relay's own pruning.
    pub fn housekeeping(mut self, housekeeping: impl IntoIterator<Item = Prune>) -> Self {
        self.housekeeping.extend(housekeeping);
        self
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
        let mut marks = Marks::new(self.mark_delay);
        loop {
            let full = match self.publish_batch(conn, &mut marks).await {
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
                    marks.mark(conn).await?;
                    tokio::select! {
                        _ = shutdown.cancelled() => return Ok(()),
                        _ = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(1));
                    continue;
                }
            };
            if marks.due() {
                marks.mark(conn).await?;
            }
            if last_prune.elapsed() > Duration::from_secs(60) {
                self.prune(conn).await?;
                last_prune = tokio::time::Instant::now();
            }
            if shutdown.is_cancelled() {
                return marks.mark(conn).await;
            }
            if full {
                continue;
            }
            tokio::select! {
                _ = shutdown.cancelled() => return marks.mark(conn).await,
                notification = listener.recv() => { notification.context("outbox notifications")?; }
                _ = marks.wait() => marks.mark(conn).await?,
                _ = tokio::time::sleep(POLL) => {}
            }
        }
    }

    /// Publishes up to [`BATCH`] rows in waves (see the module
    /// documentation), parking those that can never be published; returns
    /// how many rows it took care of.
    async fn publish_batch(
        &self,
        conn: &mut PgConnection,
        marks: &mut Marks,
    ) -> Result<usize, Stop> {
        // The published rows whose marks wait are not published again.
        let rows: Vec<Outgoing> = sqlx::query_as(
            "SELECT seq, id, aggregate_id, subject, correlation_id, traceparent, payload
               FROM outbox WHERE published_at IS NULL AND seq <> ALL($2)
              ORDER BY seq LIMIT $1",
        )
        .bind(BATCH)
        .bind(&marks.seqs)
        .fetch_all(&mut *conn)
        .await
        .map_err(|e| Stop::Database(e.into()))?;
        let taken = rows.len();
        let mut rows = VecDeque::from(rows);
        while !rows.is_empty() {
            let mut aggregates = HashSet::new();
            let mut wave = Vec::new();
            while rows
                .front()
                .is_some_and(|row| aggregates.insert(row.aggregate_id))
            {
                wave.extend(rows.pop_front());
            }
            self.publish_wave(conn, wave, marks).await?;
        }
        Ok(taken)
    }

    /// Sends every row of `wave` (one per aggregate), then awaits their
    /// acknowledgements; adds the acknowledged rows to `marks` and parks
    /// the refused ones, and reports the first transient failure after
    /// that.
    async fn publish_wave(
        &self,
        conn: &mut PgConnection,
        wave: Vec<Outgoing>,
        marks: &mut Marks,
    ) -> Result<(), Stop> {
        let mut sent = Vec::with_capacity(wave.len());
        for row in wave {
            let (seq, id) = (row.seq, row.id);
            sent.push((seq, id, self.send(row).await));
        }
        let mut refused = Vec::new();
        let mut failure = None;
        for (seq, id, sending) in sent {
            let outcome = match sending {
                Ok(ack) => confirm(ack).await,
                Err(failure) => Err(failure),
            };
            match outcome {
                Ok(()) => marks.push(seq),
                Err(Failure::Permanent(error)) => refused.push((seq, id, error)),
                Err(Failure::Transient(err)) => {
                    failure.get_or_insert(err);
                }
            }
        }
        for (seq, id, error) in refused {
            dead_letters::park(conn, seq, &error)
                .await
                .map_err(Stop::Database)?;
            tracing::error!(
                seq,
                %id,
                error,
                "outbox relay: parked a row JetStream will never accept \
                 (olympus events dead-letters lists it)"
            );
        }
        match failure {
            Some(err) => Err(Stop::Nats(err)),
            None => Ok(()),
        }
    }

    /// Sends one row; its acknowledgement is awaited by [`confirm`].
    async fn send(&self, message: Outgoing) -> Result<Pending, Failure> {
        let Outgoing {
            seq: _,
            id,
            aggregate_id: _,
            subject,
            correlation_id,
            traceparent,
            payload,
        } = message;
        if !is_publishable_subject(&subject) {
            return Err(Failure::Permanent(format!(
                "invalid subject {:?}",
                subject.chars().take(200).collect::<String>()
            )));
        }
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
        let size = payload.len();
        let ack = self
            .js
            .publish_with_headers(subject.clone(), headers, Bytes::from(payload))
            .await
            .map_err(|err| match err.kind() {
                jetstream::context::PublishErrorKind::MaxPayloadExceeded => Failure::Permanent(
                    format!("{size} bytes exceed the server's max_payload: {err}"),
                ),
                _ => Failure::Transient(
                    anyhow::Error::new(err).context(format!("publishing to {subject}")),
                ),
            })?;
        Ok(Pending {
            ack,
            id,
            subject,
            size,
        })
    }

    async fn prune(&self, conn: &mut PgConnection) -> anyhow::Result<()> {
        let pruned = sqlx::query(
            "DELETE FROM outbox WHERE published_at < now() - make_interval(secs => $1)",
        )
        .bind(self.retention.as_secs_f64())
        .execute(&mut *conn)
        .await
        .context("pruning the outbox")?
        .rows_affected();
        if pruned > 0 {
            tracing::info!(pruned, "outbox relay: pruned published rows");
        }
        // The mail limit looks back one hour.
        sqlx::query("DELETE FROM mail_log WHERE sent_at < now() - interval '1 day'")
            .execute(&mut *conn)
            .await
            .context("pruning the mail log")?;
        sqlx::query(
            "DELETE FROM idempotency_keys WHERE created_at < now() - interval '1 day' - interval '1 hour'",
        )
        .execute(&mut *conn)
        .await
        .context("pruning idempotency keys")?;
        for prune in &self.housekeeping {
            let pruned = sqlx::query(prune.statement)
                .bind(prune.retention.as_secs_f64())
                .execute(&mut *conn)
                .await
                .with_context(|| format!("pruning {}", prune.what))?
                .rows_affected();
            if pruned > 0 {
                tracing::info!(pruned, what = prune.what, "pruned");
            }
        }
        Ok(())
    }
}

/// A sent row awaiting JetStream's acknowledgement.
struct Pending {
    ack: jetstream::context::PublishAckFuture,
    id: Uuid,
    subject: String,
    size: usize,
}

/// Awaits a sent row's acknowledgement.
async fn confirm(pending: Pending) -> Result<(), Failure> {
    let Pending {
        ack,
        id,
        subject,
        size,
    } = pending;
    let ack = ack.await.map_err(|err| {
        if refused_for_size(&err) {
            Failure::Permanent(format!("JetStream refused {size} bytes: {err}"))
        } else {
            Failure::Transient(
                anyhow::Error::new(err).context(format!("no acknowledgement for {subject}")),
            )
        }
    })?;
    if ack.duplicate {
        tracing::debug!(%id, "outbox relay: already in the stream");
    }
    Ok(())
}

/// Whether JetStream answered that the message is over a size limit.
fn refused_for_size(err: &jetstream::context::PublishError) -> bool {
    std::error::Error::source(err)
        .and_then(|source| source.downcast_ref::<jetstream::Error>())
        .is_some_and(|api| api.error_code().0 == JS_MESSAGE_SIZE_EXCEEDED)
}
