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
//! Past it, while Postgres has answered nothing at all for [`SILENCE`] (on
//! any connection of this process, see [`Liveness`]), the work is dropped
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
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::error::Error;

/// How long a request may wait on Postgres in all, from when its work
/// starts, before it is answered `unavailable` while Postgres is silent:
/// the time it takes a pooled connection from an idle pool
/// (`db::APP_ACQUIRE_TIMEOUT`), so that a request that waited out the pool
/// is answered as it was before there was a deadline. Normal requests
/// spend milliseconds (p99 under 130 ms at 64 callers, README Measuring);
/// 1.5 s still answers callers that wait 2 s or more (the bench's and the
/// gateway's usual time-outs) with a coded reply, not their own time-out.
pub const DATABASE_TIME: Duration = Duration::from_millis(1500);

/// How long Postgres must have answered nothing on any connection of the
/// process before requests past their [`DATABASE_TIME`] are cut: four
/// times the revocation poll (`revocation::POLL`, 250 ms), which reads
/// Postgres even when no request does, so that a slow read on a busy
/// machine is not taken for an outage.
pub const SILENCE: Duration = Duration::from_secs(1);

/// When Postgres last answered this process: a statement that completed
/// (a transaction begun or committed, a shared read, the revocation
/// poll). One per [`crate::Db`].
#[derive(Debug)]
pub struct Liveness {
    epoch: Instant,
    /// Milliseconds from `epoch` to the last answer.
    last: AtomicU64,
}

impl Default for Liveness {
    fn default() -> Self {
        Self {
            epoch: Instant::now(),
            last: AtomicU64::new(0),
        }
    }
}

impl Liveness {
    /// Records that Postgres answered just now.
    pub fn heard(&self) {
        let since = self.epoch.elapsed().as_millis();
        self.last
            .fetch_max(u64::try_from(since).unwrap_or(u64::MAX), Ordering::Relaxed);
    }

    /// When Postgres last answered.
    fn last(&self) -> Instant {
        self.epoch + Duration::from_millis(self.last.load(Ordering::Relaxed))
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
    silence: Duration,
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
    /// with Postgres silent.
    async fn expired(&self) {
        loop {
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
                changed.await;
                continue;
            };
            // Past the deadline, the next moment Postgres can be found
            // silent: [`SILENCE`] after its last answer.
            let wake = deadline.max(self.liveness.last() + self.silence);
            if Instant::now() >= wake {
                return;
            }
            tokio::select! {
                () = changed => {}
                () = tokio::time::sleep_until(wake) => {}
            }
        }
    }

    /// The reply to a request whose deadline passed.
    fn error(&self) -> Error {
        let cause = anyhow::anyhow!(
            "the request's database time ({} ms) ran out, and Postgres answered nothing for {} ms",
            DATABASE_TIME.as_millis(),
            self.liveness.last().elapsed().as_millis()
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
    bound_within((DATABASE_TIME, SILENCE), liveness, work).await
}

async fn bound_within<T>(
    (limit, silence): (Duration, Duration),
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
        silence,
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

/// Records that Postgres answered the request this task is answering
/// ([`Liveness::heard`]). Outside a request, nothing.
pub(crate) fn heard() {
    let _ = CLOCK.try_with(|clock| clock.liveness.heard());
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Short, so that the tests run in real time.
    const LIMITS: (Duration, Duration) = (Duration::from_millis(200), Duration::from_millis(100));

    fn close_to(elapsed: Duration, expected: Duration) -> bool {
        elapsed >= expected && elapsed < expected + Duration::from_millis(250)
    }

    fn pending() -> impl Future<Output = Result<(), Error>> {
        std::future::pending()
    }

    #[tokio::test]
    async fn work_past_the_deadline_while_postgres_is_silent_is_cut_and_answered_unavailable() {
        let liveness = Arc::default();
        let started = Instant::now();
        let err = bound_within(LIMITS, &liveness, pending())
            .await
            .unwrap_err();
        assert!(
            close_to(started.elapsed(), LIMITS.0),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(err.code(), ErrorCode::Unavailable);
        assert!(err.details().is_none());
    }

    #[tokio::test]
    async fn work_past_the_deadline_goes_on_while_postgres_answers_and_is_cut_once_it_stops() {
        let liveness: Arc<Liveness> = Arc::default();
        let answering = LIMITS.0 * 3;
        let heartbeat = {
            let liveness = Arc::clone(&liveness);
            tokio::spawn(async move {
                let started = Instant::now();
                while started.elapsed() < answering {
                    liveness.heard();
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            })
        };
        let started = Instant::now();
        let err = bound_within(LIMITS, &liveness, pending())
            .await
            .unwrap_err();
        assert_eq!(err.code(), ErrorCode::Unavailable);
        // Not cut while Postgres answered; cut within the silence after.
        let elapsed = started.elapsed();
        assert!(close_to(elapsed, answering), "{elapsed:?}");
        assert!(elapsed >= answering + LIMITS.1 / 2, "{elapsed:?}");
        heartbeat.await.unwrap();
    }

    #[tokio::test]
    async fn a_commit_sent_before_the_deadline_leaves_the_outcome_unknown() {
        let err = bound_within(LIMITS, &Arc::default(), async {
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
        let err = bound_within(LIMITS, &Arc::default(), async {
            commit_sent();
            Err::<(), _>(Error::internal(sqlx::Error::PoolTimedOut))
        })
        .await
        .unwrap_err();
        assert_eq!(err.code(), ErrorCode::Unavailable);
        assert_eq!(err.details().unwrap()["outcome"], "unknown");
        let refused = bound_within(LIMITS, &Arc::default(), async {
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
        let hashing = LIMITS.0 * 2;
        let err = bound_within(LIMITS, &Arc::default(), async {
            tokio::time::sleep(LIMITS.0 / 2).await;
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
        assert!(close_to(elapsed, LIMITS.0 + hashing), "{elapsed:?}");
    }

    #[tokio::test]
    async fn work_within_the_deadline_is_answered() {
        let reply = bound_within(LIMITS, &Arc::default(), async {
            tokio::time::sleep(LIMITS.0 / 2).await;
            Ok(7)
        })
        .await;
        assert_eq!(reply.unwrap(), 7);
    }
}
