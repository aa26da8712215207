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
//! A wave's acknowledgements are awaited together, under one deadline (the
//! JetStream context's 5 s), and a wave still unacknowledged after a second
//! is logged as a stall while it lasts.
//!
//! A row is never published twice into a stream: a re-publish within the
//! streams' duplicate window ([`super::streams::DUPLICATE_WINDOW`]) is
//! dropped by JetStream; past half of it, the leader first looks for the
//! row in the stream's last messages ([`Doubts`]), as it does for the rows
//! it finds when it starts leading (a previous leader may have published
//! them before it died), and marks those it finds instead of publishing
//! them again.
//!
//! A leader that cannot publish for [`GIVE_UP_AFTER`] (its NATS server
//! hangs, or it alone is cut off) lets go of the lock and stands by a while,
//! so that a relay of another process, perhaps on another server, leads.
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

/// How long a leader that cannot publish keeps the lead.
pub const GIVE_UP_AFTER: Duration = Duration::from_secs(10);

/// How long a relay that gave up the lead stands by before trying again.
const STAND_BY_AFTER_GIVING_UP: Duration = Duration::from_secs(5);

/// How long a wave may wait for its acknowledgements before the wait is
/// logged as a stall.
const STALL: Duration = Duration::from_secs(1);

/// How many of a stream's last messages are read to find rows in doubt:
/// what may follow a row in doubt, the rest of its batch or, after a crash,
/// the acknowledged rows whose marks waited ([`MARK_MAX`]).
const DOUBT_WINDOW: u64 = MARK_MAX as u64 + 2 * BATCH as u64;

/// How long looking for rows in doubt may take in all; past it the rows are
/// published (a copy in the stream is then possible, and logged).
const LOOK_LIMIT: Duration = Duration::from_secs(3);

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

/// Rows sent without an acknowledgement: when each was first sent, and
/// whether the rows found on taking the lead were looked for in the
/// streams (see the module documentation).
#[derive(Debug, Default)]
struct Doubts {
    first_sent: std::collections::HashMap<i64, tokio::time::Instant>,
    looked_since_leading: bool,
}

impl Doubts {
    /// Whether `seq` may be in a stream already, where JetStream's duplicate
    /// window no longer catches it: first sent half a window ago or more, or
    /// found on taking the lead.
    fn in_doubt(&self, seq: i64) -> bool {
        !self.looked_since_leading
            || self
                .first_sent
                .get(&seq)
                .is_some_and(|at| at.elapsed() >= super::streams::DUPLICATE_WINDOW / 2)
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
    /// Subject prefix and stream, where rows in doubt are looked for.
    streams: Vec<(String, String)>,
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
            streams: Vec::new(),
        }
    }

    /// Where `subjects`' events and mail are stored, so that rows in doubt
    /// are looked for there before they are published again (see the
    /// module documentation); without it, they are published again.
    pub fn streams(mut self, subjects: &olympus_contracts::Subjects) -> Self {
        let prefix = |wildcard: String| wildcard.trim_end_matches('>').to_owned();
        self.streams = vec![
            (prefix(subjects.events_wildcard()), subjects.events_stream()),
            (prefix(subjects.mail_wildcard()), subjects.mail_stream()),
        ];
        self
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
            let mut wait = POLL;
            if let Some(c) = conn.as_mut() {
                match self.try_lead(c, &shutdown).await {
                    // Still a standby: keep the connection for the next try.
                    Ok(false) => {}
                    Ok(true) => conn = close(conn.take()).await,
                    Err(Stop::Nats(err)) => {
                        tracing::warn!(
                            error = format!("{err:#}"),
                            stand_by_secs = STAND_BY_AFTER_GIVING_UP.as_secs(),
                            "outbox relay: giving up the lead, unable to publish for {} s",
                            GIVE_UP_AFTER.as_secs()
                        );
                        conn = close(conn.take()).await;
                        wait = STAND_BY_AFTER_GIVING_UP;
                    }
                    Err(Stop::Database(err)) => {
                        tracing::warn!(error = format!("{err:#}"), "outbox relay: stepping down");
                        conn = close(conn.take()).await;
                    }
                }
            }
            tokio::select! {
                _ = shutdown.cancelled() => {}
                _ = tokio::time::sleep(wait) => {}
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
    ) -> Result<bool, Stop> {
        let leader: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
            .bind(LEADER_LOCK)
            .fetch_one(&mut *conn)
            .await
            .context("trying the relay lock")
            .map_err(Stop::Database)?;
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
    ) -> Result<(), Stop> {
        let db = |err: anyhow::Error| Stop::Database(err);
        let mut listener = PgListener::connect_with(&self.pool)
            .await
            .context("listening for outbox notifications")
            .map_err(db)?;
        listener.listen(CHANNEL).await.map_err(|e| db(e.into()))?;
        let mut backoff = Duration::from_millis(100);
        let mut last_prune = tokio::time::Instant::now() - Duration::from_secs(3600);
        let mut marks = Marks::new(self.mark_delay);
        let mut doubts = Doubts::default();
        let mut failing_since: Option<tokio::time::Instant> = None;
        loop {
            let full = match self.publish_batch(conn, &mut marks, &mut doubts).await {
                Ok(count) => {
                    // JetStream answers: what a failed look left in doubt is
                    // published now, in the duplicate window.
                    doubts.looked_since_leading = true;
                    if let Some(since) = failing_since.take() {
                        tracing::info!(
                            after_ms = since.elapsed().as_millis() as u64,
                            "outbox relay: publishing again"
                        );
                    }
                    backoff = Duration::from_millis(100);
                    count == BATCH as usize
                }
                Err(Stop::Database(err)) => return Err(Stop::Database(err)),
                Err(Stop::Nats(err)) => {
                    let since = *failing_since.get_or_insert_with(tokio::time::Instant::now);
                    tracing::warn!(
                        error = format!("{err:#}"),
                        retry_in_ms = backoff.as_millis() as u64,
                        failing_for_ms = since.elapsed().as_millis() as u64,
                        "outbox relay: cannot publish"
                    );
                    marks.mark(conn).await.map_err(db)?;
                    if since.elapsed() >= GIVE_UP_AFTER {
                        return Err(Stop::Nats(err));
                    }
                    tokio::select! {
                        _ = shutdown.cancelled() => return Ok(()),
                        _ = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(1));
                    continue;
                }
            };
            if marks.due() {
                marks.mark(conn).await.map_err(db)?;
            }
            if last_prune.elapsed() > Duration::from_secs(60) {
                self.prune(conn).await.map_err(db)?;
                last_prune = tokio::time::Instant::now();
            }
            if shutdown.is_cancelled() {
                return marks.mark(conn).await.map_err(db);
            }
            if full {
                continue;
            }
            tokio::select! {
                _ = shutdown.cancelled() => return marks.mark(conn).await.map_err(db),
                notification = listener.recv() => {
                    notification.context("outbox notifications").map_err(db)?;
                }
                _ = marks.wait() => marks.mark(conn).await.map_err(db)?,
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
        doubts: &mut Doubts,
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
        let rows = self.not_yet_in_a_stream(rows, marks, doubts).await?;
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
            self.publish_wave(conn, wave, marks, doubts).await?;
        }
        Ok(taken)
    }

    /// `rows` without those in doubt (see [`Doubts`]) that a stream holds
    /// already: those are marked as if acknowledged.
    async fn not_yet_in_a_stream(
        &self,
        rows: Vec<Outgoing>,
        marks: &mut Marks,
        doubts: &mut Doubts,
    ) -> Result<Vec<Outgoing>, Stop> {
        let doubted: Vec<&Outgoing> = rows.iter().filter(|row| doubts.in_doubt(row.seq)).collect();
        if doubted.is_empty() {
            doubts.looked_since_leading = true;
            return Ok(rows);
        }
        let looked = tokio::time::timeout(LOOK_LIMIT, self.in_streams(&doubted))
            .await
            .unwrap_or_else(|_| Err(anyhow::anyhow!("no answer within {LOOK_LIMIT:?}")));
        let found = match looked {
            Ok(found) => {
                doubts.looked_since_leading = true;
                found
            }
            // Publishing is worth more than the rare copy this check avoids;
            // a publish that then succeeds ends the doubt of the lead's
            // first rows (see `lead`).
            Err(err) => {
                tracing::warn!(
                    error = format!("{err:#}"),
                    rows = doubted.len(),
                    "outbox relay: cannot look for rows in doubt in their streams; publishing them \
                     (one may be stored twice)"
                );
                HashSet::new()
            }
        };
        if !found.is_empty() {
            tracing::info!(
                rows = found.len(),
                "outbox relay: rows in doubt are in their stream already; marked, not published again"
            );
        }
        Ok(rows
            .into_iter()
            .filter(|row| {
                let held = found.contains(&row.id);
                if held {
                    doubts.first_sent.remove(&row.seq);
                    marks.push(row.seq);
                }
                !held
            })
            .collect())
    }

    /// The ids of `rows` among the last [`DOUBT_WINDOW`] messages of their
    /// streams (those [`Relay::streams`] names). A message a work-queue
    /// stream's consumer has already taken cannot be read: such a row would
    /// be published again, once.
    async fn in_streams(&self, rows: &[&Outgoing]) -> anyhow::Result<HashSet<Uuid>> {
        let wanted: HashSet<Uuid> = rows.iter().map(|row| row.id).collect();
        let streams: HashSet<&str> = rows
            .iter()
            .filter_map(|row| {
                self.streams
                    .iter()
                    .find(|(prefix, _)| row.subject.starts_with(prefix.as_str()))
                    .map(|(_, stream)| stream.as_str())
            })
            .collect();
        let mut found = HashSet::new();
        for name in streams {
            let mut stream = self
                .js
                .get_stream(&name)
                .await
                .with_context(|| format!("reading stream {name}"))?;
            let state = stream
                .info()
                .await
                .with_context(|| format!("reading stream {name}"))?
                .state
                .clone();
            let from = state
                .first_sequence
                .max(state.last_sequence.saturating_sub(DOUBT_WINDOW - 1))
                .max(1);
            for sequence in from..=state.last_sequence {
                let message = match stream.get_raw_message(sequence).await {
                    Ok(message) => message,
                    // Gone (taken from a work queue, or aged out).
                    Err(err)
                        if err.kind()
                            == jetstream::stream::LastRawMessageErrorKind::NoMessageFound =>
                    {
                        continue
                    }
                    Err(err) => {
                        return Err(anyhow::Error::new(err)
                            .context(format!("reading message {sequence} of {name}")))
                    }
                };
                let id = message
                    .headers
                    .get(headers::NATS_MSG_ID)
                    .and_then(|value| Uuid::parse_str(value.as_str()).ok());
                if let Some(id) = id.filter(|id| wanted.contains(id)) {
                    found.insert(id);
                }
            }
        }
        Ok(found)
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
        doubts: &mut Doubts,
    ) -> Result<(), Stop> {
        // Nothing is queued for later: a publish the client would hold
        // while it reconnects could land after a look found it missing, or
        // after another leader published the aggregate's next row.
        if self.js.client().connection_state() != async_nats::connection::State::Connected {
            return Err(Stop::Nats(anyhow::anyhow!("NATS is not connected")));
        }
        let mut sent = Vec::with_capacity(wave.len());
        for row in wave {
            let (seq, id) = (row.seq, row.id);
            doubts
                .first_sent
                .entry(seq)
                .or_insert_with(tokio::time::Instant::now);
            let sending = self.send(row).await;
            let failed = matches!(sending, Err(Failure::Transient(_)));
            sent.push((seq, id, sending));
            // The rest of the wave waits for the next try.
            if failed {
                break;
            }
        }
        // Every acknowledgement at once, each within the context's time-out:
        // a wave waits that long at most, not that long per row.
        let rows = sent.len();
        let confirmed =
            futures::future::join_all(sent.into_iter().map(|(seq, id, sending)| async move {
                let outcome = match sending {
                    Ok(ack) => confirm(ack).await,
                    Err(failure) => Err(failure),
                };
                (seq, id, outcome)
            }));
        tokio::pin!(confirmed);
        let started = tokio::time::Instant::now();
        let client = self.js.client();
        let outcomes = tokio::select! {
            outcomes = &mut confirmed => outcomes,
            () = tokio::time::sleep(STALL) => {
                tracing::warn!(rows, "outbox relay: JetStream has not acknowledged a wave for 1 s; waiting");
                let outcomes = tokio::select! {
                    outcomes = &mut confirmed => outcomes,
                    // Acknowledgements cannot come over a lost connection:
                    // the wave is tried again once NATS is back, not when
                    // its time-out ends.
                    () = disconnected(&client) => {
                        return Err(Stop::Nats(anyhow::anyhow!(
                            "NATS went away while {rows} publishes awaited their acknowledgements"
                        )));
                    }
                };
                tracing::warn!(rows, waited_ms = started.elapsed().as_millis() as u64, "outbox relay: the wave's wait is over");
                outcomes
            }
        };
        let mut refused = Vec::new();
        let mut failure = None;
        for (seq, id, outcome) in outcomes {
            if !matches!(outcome, Err(Failure::Transient(_))) {
                doubts.first_sent.remove(&seq);
            }
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

/// Returns once `client` is not connected (looked at every 100 ms).
async fn disconnected(client: &async_nats::Client) {
    while client.connection_state() == async_nats::connection::State::Connected {
        tokio::time::sleep(Duration::from_millis(100)).await;
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
