//! The bound on one request's database time: while Postgres is away,
//! every request is still answered, within [`DATABASE_TIME`].
//!
//! A request can wait on Postgres in many places, and not all of them end
//! by themselves: for a pooled connection (bounded by the pool), for a new
//! connection to a server that accepts TCP and never answers (a frozen
//! Postgres, a network partition), and for any statement on a connection
//! whose peer stopped answering, `BEGIN` and `COMMIT` included: sqlx has no
//! statement time-out of its own, and a half-open socket waits forever.
//! Rather than bound each wait, the runtime bounds them together: a
//! request's work runs under a deadline [`DATABASE_TIME`] after it starts.
//! Past it, while Postgres is silent (it has left a probe of this
//! process's unanswered for [`SILENCE`], see [`Liveness`]), the work is dropped
//! and the request answered `unavailable` (503: nothing was changed, safe
//! to retry), or, once the request has sent a commit
//! ([`crate::db::commit`], [`crate::db::committing`]), `unavailable` with
//! `details.outcome: "unknown"`: the worker cannot know whether Postgres
//! committed, and the caller should retry only with the same
//! `Idempotency-Key`. (Any other `unavailable` after a commit says so too:
//! a statement that fails after a commit cannot undo it.)
//!
//! While Postgres keeps answering, a request past its database time goes
//! on: it is waiting for a row lock another request holds, or on a busy
//! server, and cutting it would fail work that succeeds (on a loaded
//! two-core machine, 16 callers ordering the same product waited up to
//! 4.8 s for its row). So a request sent while Postgres is away is
//! answered [`DATABASE_TIME`] after it started; one already waiting when
//! Postgres went away, once it has had its [`DATABASE_TIME`] and Postgres
//! has been silent for [`SILENCE`].
//!
//! **Silence** is judged by one probe at a time on a connection of its
//! own ([`Liveness::probe`], `SELECT 1` every [`PROBE_EVERY`], as the
//! request role, through the same network path as the requests): Postgres
//! is silent once a probe, or a run of failed probes, has gone unanswered
//! for [`SILENCE`]. Only the prober says so, and it looks at its probe's
//! answer before its own timer: a process that stalls (a first use that
//! builds a large table, a starved runtime) finds the answer waiting when
//! it runs again, and takes nobody's stall for Postgres's. (Judging
//! silence by the last answer any request had, instead, cut orders during
//! such a stall in the test suite's single-threaded runtime.)
//!
//! Time that is not the database's does not count: what a handler wraps
//! in [`exempt`] (a password hash, queued for the hashing threads; a
//! payment provider's call) pushes the deadline back by as long as it
//! took, and is never cut.
//!
//! Dropping the work is safe for the database: a transaction dropped
//! unfinished is rolled back (sqlx queues its `ROLLBACK`; the pool sends
//! it and reads every reply still owed before the connection serves
//! anyone else, or closes the connection when that takes more than 5 s:
//! `vendor/sqlx-core/PATCHED.md`), so a request cut before its commit
//! leaves no change and, once Postgres hears of it, no lock. Nor does a cut
//! request hold up the next: its connection leaves the request with it,
//! and a request that finds every pooled connection still busy waits for
//! one under its own deadline.

use olympus_contracts::ErrorCode;
use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection, PgConnection};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{watch, Notify};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::error::Error;

/// How long a request waits for a connection of the app pool.
pub const APP_ACQUIRE_TIMEOUT: Duration = Duration::from_millis(1500);

/// How long a request may wait on Postgres in all, from when its work
/// starts, before it is answered `unavailable` while Postgres is silent:
/// the time it takes a pooled connection from an idle pool
/// ([`APP_ACQUIRE_TIMEOUT`]), so that a request that waited out the pool
/// is answered as it was before there was a deadline. Normal requests
/// spend milliseconds on Postgres (docs/performance.md: even
/// `orders.create` at 64 callers answers within a few hundred ms at p99);
/// 1.5 s still answers callers that wait 2 s or more (the bench's and the
/// gateway's usual time-outs) with a coded reply, not their own time-out.
pub const DATABASE_TIME: Duration = Duration::from_millis(1500);

/// How long a probe of Postgres (or a run of failed ones) must go
/// unanswered before Postgres counts as silent and requests past their
/// [`DATABASE_TIME`] are cut: four probes' time, so that a slow answer on a
/// busy machine is not taken for an outage.
pub const SILENCE: Duration = Duration::from_secs(1);

/// How often [`Liveness::probe`] asks Postgres whether it answers.
pub const PROBE_EVERY: Duration = Duration::from_millis(250);

/// How long one probe is waited for before its connection is given up and
/// a new one made.
const PROBE_GIVE_UP: Duration = Duration::from_secs(5);

/// Whether Postgres answers this process, as one prober finds it (see [the
/// module](self)). One per [`crate::Db`]; silent never, until
/// [`Liveness::probe`] runs.
#[derive(Debug)]
pub struct Liveness {
    silent: watch::Sender<bool>,
}

impl Default for Liveness {
    fn default() -> Self {
        Self {
            silent: watch::Sender::new(false),
        }
    }
}

impl Liveness {
    /// Whether Postgres is silent now.
    pub fn is_silent(&self) -> bool {
        *self.silent.borrow()
    }

    fn set_silent(&self, silent: bool) {
        self.silent.send_if_modified(|now| {
            let changed = *now != silent;
            *now = silent;
            changed
        });
    }

    /// Probes Postgres (as `options` connects) until `stop`: `SELECT 1`
    /// every [`PROBE_EVERY`] on a connection of its own, Postgres counting
    /// as silent while a probe, or a run of failed ones, has had no answer
    /// for [`SILENCE`].
    pub async fn probe(self: Arc<Self>, options: PgConnectOptions, stop: CancellationToken) {
        let options = options.application_name("olympus liveness");
        let mut connection: Option<PgConnection> = None;
        // Since when Postgres has not answered: the start of the first
        // probe that got no answer yet.
        let mut unanswered_since: Option<Instant> = None;
        loop {
            let started = Instant::now();
            let since = *unanswered_since.get_or_insert(started);
            let taken = connection.take();
            let asked = async {
                let mut connection = match taken {
                    Some(connection) => connection,
                    None => PgConnection::connect_with(&options).await?,
                };
                sqlx::query("SELECT 1").execute(&mut connection).await?;
                Ok::<_, sqlx::Error>(connection)
            };
            tokio::pin!(asked);
            let answered = loop {
                tokio::select! {
                    // The answer first: after a stall of this process, the
                    // answer waiting for it counts, not its own timer.
                    biased;
                    () = stop.cancelled() => return,
                    answer = &mut asked => break answer.ok(),
                    () = tokio::time::sleep_until(since + SILENCE), if !self.is_silent() => {
                        tracing::warn!(
                            silent_ms = since.elapsed().as_millis() as u64,
                            "Postgres is not answering: requests past their database time are answered unavailable"
                        );
                        self.set_silent(true);
                    }
                    () = tokio::time::sleep_until(started + PROBE_GIVE_UP) => break None,
                }
            };
            match answered {
                Some(answering) => {
                    connection = Some(answering);
                    unanswered_since = None;
                    if self.is_silent() {
                        tracing::info!("Postgres answers again");
                    }
                    self.set_silent(false);
                }
                None if since.elapsed() >= SILENCE && !self.is_silent() => self.set_silent(true),
                None => {}
            }
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(PROBE_EVERY) => {}
            }
        }
    }
}

tokio::task_local! {
    /// The clock of the request this task is answering.
    static CLOCK: Arc<Clock>;
}

/// One request's deadline.
#[derive(Debug)]
struct Clock {
    state: Mutex<State>,
    /// Woken when an exempt stretch ends, to look at the deadline again.
    changed: Notify,
    liveness: Arc<Liveness>,
}

#[derive(Debug)]
struct State {
    deadline: Instant,
    /// Exempt stretches running, and since when the first of them has.
    exempt: usize,
    exempt_since: Instant,
    /// Whether the request has sent a commit (its outcome may be known,
    /// or not yet).
    commit_sent: bool,
}

impl Clock {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Returns once the deadline has passed, outside any exempt stretch,
    /// with Postgres silent. While Postgres answers, it waits for silence
    /// alone: a request that ends before Postgres falls silent, nearly
    /// every one, never sets a timer.
    async fn expired(&self) {
        let mut silence = self.liveness.silent.subscribe();
        loop {
            if !*silence.borrow_and_update() {
                // The sender lives with the liveness this clock holds.
                let _ = silence.changed().await;
                continue;
            }
            let changed = self.changed.notified();
            tokio::pin!(changed);
            // Registered before the state is read, so that the end of an
            // exempt stretch cannot slip between the two.
            changed.as_mut().enable();
            let deadline = {
                let state = self.state();
                (state.exempt == 0).then_some(state.deadline)
            };
            let Some(deadline) = deadline else {
                tokio::select! {
                    () = changed => {}
                    _ = silence.changed() => {}
                }
                continue;
            };
            if Instant::now() >= deadline {
                return;
            }
            tokio::select! {
                () = changed => {}
                () = tokio::time::sleep_until(deadline) => {}
                _ = silence.changed() => {}
            }
        }
    }

    /// The reply to a request whose deadline passed.
    fn error(&self) -> Error {
        let cause = anyhow::anyhow!(
            "the request's database time ({} ms) ran out while Postgres did not answer",
            DATABASE_TIME.as_millis(),
        );
        if self.state().commit_sent {
            return Error::outcome_unknown(cause);
        }
        // As when the pool has no connection to give (`error::is_unavailable`).
        Error::new(ErrorCode::Unavailable).with_source(cause)
    }
}

/// Runs `work`, a request's, under a deadline [`DATABASE_TIME`] from now
/// and Postgres's [`Liveness`] (see [the module](self)).
pub(crate) async fn bound<T>(
    liveness: &Arc<Liveness>,
    work: impl Future<Output = Result<T, Error>>,
) -> Result<T, Error> {
    bound_within(DATABASE_TIME, liveness, work).await
}

async fn bound_within<T>(
    limit: Duration,
    liveness: &Arc<Liveness>,
    work: impl Future<Output = Result<T, Error>>,
) -> Result<T, Error> {
    let now = Instant::now();
    let clock = Arc::new(Clock {
        state: Mutex::new(State {
            deadline: now + limit,
            exempt: 0,
            exempt_since: now,
            commit_sent: false,
        }),
        changed: Notify::new(),
        liveness: Arc::clone(liveness),
    });
    let result = tokio::select! {
        // A reply ready at the deadline is sent, not thrown away.
        biased;
        result = CLOCK.scope(Arc::clone(&clock), work) => result,
        () = clock.expired() => return Err(clock.error()),
    };
    result.map_err(|err| {
        // After a commit, what failed later (a statement, a connection)
        // cannot undo it: "unavailable" must not claim nothing was made.
        let unknown = err.code() == ErrorCode::Unavailable
            && clock.state().commit_sent
            && err.details().is_none_or(|d| !d.contains_key("outcome"));
        if unknown {
            Error::outcome_unknown(anyhow::anyhow!("after a commit: {err}"))
        } else {
            err
        }
    })
}

/// Runs `work`, which does not wait on the database, without the
/// request's deadline running: it is never cut, and the deadline moves
/// back by as long as it took. Outside a request it just runs `work`.
pub async fn exempt<F: Future>(work: F) -> F::Output {
    let Ok(clock) = CLOCK.try_with(Arc::clone) else {
        return work.await;
    };
    {
        let mut state = clock.state();
        if state.exempt == 0 {
            state.exempt_since = Instant::now();
        }
        state.exempt += 1;
    }
    // Resumes the deadline however `work` ends (finished or dropped).
    struct Resume(Arc<Clock>);
    impl Drop for Resume {
        fn drop(&mut self) {
            let mut state = self.0.state();
            state.exempt -= 1;
            if state.exempt == 0 {
                let paused = state.exempt_since.elapsed();
                state.deadline += paused;
            }
            drop(state);
            self.0.changed.notify_waiters();
        }
    }
    let _resume = Resume(clock);
    work.await
}

/// Marks the request as having sent a commit: from now on, a deadline
/// that passes leaves its outcome unknown. Outside a request, nothing.
pub(crate) fn commit_sent() {
    let _ = CLOCK.try_with(|clock| clock.state().commit_sent = true);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Short, so that the tests run in real time.
    const LIMIT: Duration = Duration::from_millis(200);

    fn close_to(elapsed: Duration, expected: Duration) -> bool {
        elapsed >= expected && elapsed < expected + Duration::from_millis(250)
    }

    fn pending() -> impl Future<Output = Result<(), Error>> {
        std::future::pending()
    }

    fn silent() -> Arc<Liveness> {
        let liveness = Arc::new(Liveness::default());
        liveness.set_silent(true);
        liveness
    }

    #[tokio::test]
    async fn work_past_the_deadline_while_postgres_is_silent_is_cut_and_answered_unavailable() {
        let started = Instant::now();
        let err = bound_within(LIMIT, &silent(), pending()).await.unwrap_err();
        assert!(
            close_to(started.elapsed(), LIMIT),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(err.code(), ErrorCode::Unavailable);
        assert!(err.details().is_none());
    }

    #[tokio::test]
    async fn work_past_the_deadline_goes_on_while_postgres_answers_and_is_cut_once_it_is_silent() {
        let liveness: Arc<Liveness> = Arc::default();
        let answering = LIMIT * 3;
        let prober = {
            let liveness = Arc::clone(&liveness);
            tokio::spawn(async move {
                tokio::time::sleep(answering).await;
                liveness.set_silent(true);
            })
        };
        let started = Instant::now();
        let err = bound_within(LIMIT, &liveness, pending()).await.unwrap_err();
        assert_eq!(err.code(), ErrorCode::Unavailable);
        // Not cut while Postgres answered; cut as soon as it was silent.
        let elapsed = started.elapsed();
        assert!(close_to(elapsed, answering), "{elapsed:?}");
        prober.await.unwrap();
    }

    #[tokio::test]
    async fn the_prober_finds_a_server_that_accepts_and_never_answers_silent_after_the_silence() {
        // A server that takes connections and says nothing: a frozen
        // Postgres, or one behind a cut network path.
        let mute = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = mute.local_addr().unwrap().port();
        let held = tokio::spawn(async move {
            let mut kept = Vec::new();
            while let Ok((socket, _)) = mute.accept().await {
                kept.push(socket);
            }
        });
        let liveness: Arc<Liveness> = Arc::default();
        let stop = CancellationToken::new();
        let options = PgConnectOptions::new().host("127.0.0.1").port(port);
        let started = Instant::now();
        let probing = tokio::spawn(Arc::clone(&liveness).probe(options, stop.clone()));
        let mut silence = liveness.silent.subscribe();
        tokio::time::timeout(Duration::from_secs(3), silence.wait_for(|s| *s))
            .await
            .expect("silent within 3 s")
            .unwrap();
        let elapsed = started.elapsed();
        assert!(close_to(elapsed, SILENCE), "{elapsed:?}");
        stop.cancel();
        probing.await.unwrap();
        held.abort();
    }

    #[tokio::test]
    async fn a_commit_sent_before_the_deadline_leaves_the_outcome_unknown() {
        let err = bound_within(LIMIT, &silent(), async {
            commit_sent();
            pending().await
        })
        .await
        .unwrap_err();
        assert_eq!(err.code(), ErrorCode::Unavailable);
        assert_eq!(err.details().unwrap()["outcome"], "unknown");
    }

    #[tokio::test]
    async fn unavailable_after_a_commit_says_the_outcome_is_unknown() {
        let err = bound_within(LIMIT, &Arc::default(), async {
            commit_sent();
            Err::<(), _>(Error::internal(sqlx::Error::PoolTimedOut))
        })
        .await
        .unwrap_err();
        assert_eq!(err.code(), ErrorCode::Unavailable);
        assert_eq!(err.details().unwrap()["outcome"], "unknown");
        let refused = bound_within(LIMIT, &Arc::default(), async {
            commit_sent();
            Err::<(), _>(Error::new(ErrorCode::Conflict))
        })
        .await
        .unwrap_err();
        assert_eq!(refused.code(), ErrorCode::Conflict);
    }

    #[tokio::test]
    async fn exempt_time_does_not_count_and_is_not_cut() {
        let started = Instant::now();
        let hashing = LIMIT * 2;
        let err = bound_within(LIMIT, &silent(), async {
            tokio::time::sleep(LIMIT / 2).await;
            let hashed = exempt(async {
                tokio::time::sleep(hashing).await;
                7
            });
            assert_eq!(hashed.await, 7);
            pending().await
        })
        .await
        .unwrap_err();
        assert_eq!(err.code(), ErrorCode::Unavailable);
        let elapsed = started.elapsed();
        assert!(close_to(elapsed, LIMIT + hashing), "{elapsed:?}");
    }

    #[tokio::test]
    async fn work_within_the_deadline_is_answered() {
        let reply = bound_within(LIMIT, &silent(), async {
            tokio::time::sleep(LIMIT / 2).await;
            Ok(7)
        })
        .await;
        assert_eq!(reply.unwrap(), 7);
    }
}
