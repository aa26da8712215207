//! Bearer point reads that concurrent requests share a round trip for.
//!
//! `auth.me` and `tenant.get` each read one row by id in the caller's
//! tenant. Such a read is declared once as a [`SharedRead`] and made with
//! [`Db::read_shared`](crate::Db::read_shared). While fewer than two reads
//! of its kind are in flight and none waits, a read goes to Postgres at
//! once from its own request, alone: at low load nothing waits, and the
//! statement is the one a single read would be. Past that, reads queue,
//! and each of two statement tasks takes all that wait, up to
//! [`MAX_BATCH`]: one round trip, one statement, one plan, however many
//! callers. Under load that is most of what a bearer read costs Postgres
//! and the worker (the protocol messages, the wake-ups, the pool): at 64
//! callers `auth.me` costs Postgres about a quarter of its CPU alone, and
//! the server half (docs/performance.md).
//!
//! Each read keeps its own tenant. The statement walks the requested
//! `(tenant, key)` pairs in order; for each it enters the pair's tenant
//! exactly as [`Db::tenant`](crate::Db::tenant) does (`set_config(...,
//! true)`) and then reads, under row-level security, the rows of that
//! tenant alone. The scope is a lateral subquery that the read depends on,
//! so Postgres must set it before it reads that pair's rows, and the
//! policies' filter is evaluated on each row read. A pair whose key belongs
//! to another tenant finds nothing, as a single read would (tested in
//! `tests/e2e/rls.rs`). The setting is transaction-local: on the app
//! pool it ends with the statement.
//!
//! A read waits for its answer no longer than a request waits for a pooled
//! connection ([`APP_ACQUIRE_TIMEOUT`]): then it is `unavailable`, as it
//! would be alone.
//!
//! Every read is made: identical reads that arrive together are not
//! merged, so a batch costs Postgres what its callers asked for.

use crate::deadline::APP_ACQUIRE_TIMEOUT;
use crate::error::Error;
use sqlx::postgres::PgRow;
use sqlx::{PgPool, Row};
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, oneshot, Semaphore};
use tokio::time::Instant;
use tracing::{Instrument, Span};
use uuid::Uuid;

/// The most reads one statement makes.
pub const MAX_BATCH: usize = 128;

/// Reads of one kind waiting for a statement; a caller that finds the
/// queue full waits for room (the workers' in-flight bounds keep it short).
const QUEUE: usize = 1024;

/// Statements of one kind in flight at once from the queue, and as many
/// again straight from requests (each on its own pooled connection). Two:
/// while one is in Postgres, the other gathers and sends the reads that
/// arrived meanwhile, so neither Postgres nor the worker waits for the
/// other.
const STATEMENTS: usize = 2;

/// Column of the statement's rows that says which requested pair a row
/// answers (1-based, in request order).
const INDEX_COLUMN: &str = "olympus_read_index";

/// A point read by `(tenant, key)`, shared by concurrent requests.
///
/// Declare it once, in a `static` (its address identifies it):
///
/// ```ignore
/// static READ: LazyLock<SharedRead> = LazyLock::new(|| {
///     SharedRead::new("SELECT id, email FROM users WHERE id = k.key")
/// });
/// ```
#[derive(Debug)]
pub struct SharedRead {
    /// One read.
    one: String,
    /// Several reads, from two arrays. Each array is a sub-select so that
    /// Postgres estimates their length alike with and without the values:
    /// otherwise the plan for the arrays at hand looks cheaper than the
    /// prepared statement's generic plan, and Postgres plans every batch
    /// anew (0.13 ms here, more than the read).
    many: String,
}

impl SharedRead {
    /// A read whose `select` finds at most one row for the pair `k.tenant`
    /// (the tenant to enter, a UUID) and `k.key` (a UUID), under row-level
    /// security; its columns are the rows' columns (decode them with
    /// `sqlx::FromRow`; extra columns are ignored).
    pub fn new(select: &str) -> Self {
        let scoped = format!(
            "CROSS JOIN LATERAL \
                    (SELECT pg_catalog.set_config('olympus.tenant_id', k.tenant::text, true) \
                     OFFSET 0) AS scope (tenant) \
              CROSS JOIN LATERAL \
                    (SELECT * FROM ({select}) AS q WHERE scope.tenant IS NOT NULL OFFSET 0) \
                    AS scoped"
        );
        Self {
            one: format!(
                "SELECT 1::bigint AS {INDEX_COLUMN}, scoped.* \
                   FROM (SELECT $1::uuid AS tenant, $2::uuid AS key) AS k {scoped}"
            ),
            many: format!(
                "SELECT k.n AS {INDEX_COLUMN}, scoped.* \
                   FROM unnest((SELECT $1::uuid[]), (SELECT $2::uuid[])) \
                        WITH ORDINALITY AS k (tenant, key, n) \
                   {scoped}"
            ),
        }
    }
}

/// Makes the reads `pairs` (tenant, key) in one statement on `pool`: the
/// row each found, in request order. This is what one shared round trip
/// runs.
pub async fn read_many(
    pool: &PgPool,
    read: &SharedRead,
    pairs: &[(Uuid, Uuid)],
) -> Result<Vec<Option<PgRow>>, sqlx::Error> {
    let rows = match pairs {
        [(tenant, key)] => {
            sqlx::query(&read.one)
                .bind(tenant)
                .bind(key)
                .fetch_all(pool)
                .await?
        }
        _ => {
            let (tenants, keys): (Vec<Uuid>, Vec<Uuid>) = pairs.iter().copied().unzip();
            sqlx::query(&read.many)
                .bind(tenants)
                .bind(keys)
                .fetch_all(pool)
                .await?
        }
    };
    let mut found: Vec<Option<PgRow>> = pairs.iter().map(|_| None).collect();
    for row in rows {
        let index: i64 = row.try_get(INDEX_COLUMN)?;
        let slot = usize::try_from(index)
            .ok()
            .and_then(|n| n.checked_sub(1))
            .and_then(|i| found.get_mut(i))
            .ok_or_else(|| {
                sqlx::Error::Protocol(format!("shared read row {index} out of range"))
            })?;
        if slot.is_some() {
            return Err(sqlx::Error::Protocol(format!(
                "shared read found several rows for request {index}"
            )));
        }
        *slot = Some(row);
    }
    Ok(found)
}

/// A read waiting for its statement.
struct Job {
    pair: (Uuid, Uuid),
    reply: oneshot::Sender<Result<Option<PgRow>, Error>>,
    /// When it was asked for: it waits for Postgres no longer than a
    /// request waits for a pooled connection.
    queued: Instant,
    /// The request's span, under which a statement making this read alone
    /// is logged.
    span: Span,
}

/// One kind of shared read: its queue, and how many reads may go to
/// Postgres at once straight from their own request.
#[derive(Clone)]
struct Kind {
    queue: mpsc::Sender<Job>,
    direct: Arc<Semaphore>,
}

/// The shared reads of a [`Db`](crate::Db), one [`Kind`] per declared
/// read, each with its queued statements running as tasks; they end when
/// the `Db` is dropped.
#[derive(Default)]
pub(crate) struct SharedReads {
    kinds: Mutex<HashMap<usize, Kind>>,
}

impl fmt::Debug for SharedReads {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedReads").finish_non_exhaustive()
    }
}

impl SharedReads {
    /// Reads `pair` with `read`: straight away on the request's own task
    /// while few reads of that kind are in flight and none waits, else
    /// through the queue, sharing the next statement with whatever waits.
    pub(crate) async fn read(
        &self,
        pool: &PgPool,
        read: &'static SharedRead,
        pair: (Uuid, Uuid),
    ) -> Result<Option<PgRow>, Error> {
        let kind = self.kind(pool, read);
        let queued = Instant::now();
        let nothing_waits = kind.queue.capacity() == kind.queue.max_capacity();
        if let (true, Ok(_direct)) = (nothing_waits, kind.direct.try_acquire()) {
            let mut rows = make(pool, read, &[pair], queued).await?;
            return Ok(rows.pop().flatten());
        }
        let (reply, answer) = oneshot::channel();
        let stopped = || Error::internal(anyhow::anyhow!("the shared read's statements stopped"));
        kind.queue
            .send(Job {
                pair,
                reply,
                queued,
                span: Span::current(),
            })
            .await
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }

    fn kind(&self, pool: &PgPool, read: &'static SharedRead) -> Kind {
        let mut kinds = self.kinds.lock().unwrap_or_else(|e| e.into_inner());
        kinds
            .entry(read as *const SharedRead as usize)
            .or_insert_with(|| {
                let (queue, receiver) = mpsc::channel(QUEUE);
                let receiver = Arc::new(tokio::sync::Mutex::new(receiver));
                for _ in 0..STATEMENTS {
                    tokio::spawn(statements(pool.clone(), read, Arc::clone(&receiver)));
                }
                Kind {
                    queue,
                    direct: Arc::new(Semaphore::new(STATEMENTS)),
                }
            })
            .clone()
    }
}

/// Makes the reads `pairs`, the oldest of which was asked for at `since`:
/// `unavailable` (as a pool time-out) once that one has waited as long as
/// a request waits for a pooled connection. While Postgres is away, reads
/// queued behind a statement must not wait for its time-out and then for
/// their own.
async fn make(
    pool: &PgPool,
    read: &SharedRead,
    pairs: &[(Uuid, Uuid)],
    since: Instant,
) -> Result<Vec<Option<PgRow>>, sqlx::Error> {
    tokio::time::timeout_at(since + APP_ACQUIRE_TIMEOUT, read_many(pool, read, pairs))
        .await
        .unwrap_or(Err(sqlx::Error::PoolTimedOut))
}

/// One statement at a time: takes every waiting read (up to [`MAX_BATCH`]),
/// makes them in one round trip and answers each. Ends when the queue's
/// senders are gone.
async fn statements(
    pool: PgPool,
    read: &'static SharedRead,
    queue: Arc<tokio::sync::Mutex<mpsc::Receiver<Job>>>,
) {
    let mut jobs = Vec::with_capacity(MAX_BATCH);
    loop {
        if queue.lock().await.recv_many(&mut jobs, MAX_BATCH).await == 0 {
            return;
        }
        // A caller that gave up (its request was cancelled) needs no read.
        jobs.retain(|job| !job.reply.is_closed());
        if jobs.is_empty() {
            continue;
        }
        let pairs: Vec<(Uuid, Uuid)> = jobs.iter().map(|job| job.pair).collect();
        // A read alone is logged as its request's statement; a batch under
        // a span of its own.
        let span = match &jobs[..] {
            [job] => job.span.clone(),
            _ => tracing::debug_span!("shared_read", reads = jobs.len()),
        };
        let made = make(&pool, read, &pairs, jobs[0].queued)
            .instrument(span)
            .await;
        match made {
            Ok(rows) => {
                for (job, row) in jobs.drain(..).zip(rows) {
                    let _ = job.reply.send(Ok(row));
                }
            }
            Err(err) => {
                let err = Error::from(err);
                for job in jobs.drain(..) {
                    let _ = job.reply.send(Err(err.duplicate()));
                }
            }
        }
    }
}
