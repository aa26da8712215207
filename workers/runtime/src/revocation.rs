//! Revocation that costs no round trip per request.
//!
//! A bearer request is accepted when its access token checks out (see
//! [`crate::tokens`]) and this process does not know its session to be
//! revoked nor its tenant suspended. That knowledge is kept in memory:
//!
//! - the process that revokes a session records it at once and broadcasts
//!   it on `{prefix}.internal.revocations` (core NATS, every process
//!   listens; published on the relay's connection where `serve` has one,
//!   see `App::broadcast_on`), so the others refuse its tokens within
//!   milliseconds;
//! - every process also reads the revocations and suspensions committed
//!   since its last look from Postgres every 250 ms, so one that missed a
//!   broadcast (or restarted, or reconnected) catches up well within a
//!   second; at start it reads everything still relevant;
//! - a revocation matters only while the session's access tokens can live,
//!   so entries older than the access token lifetime are forgotten;
//! - when the last successful read is older than [`STALE_AFTER`] (Postgres
//!   away), bearer requests are answered `unavailable` rather than trusted
//!   on stale knowledge.
//!
//! The same reads bring the tenants that require a second factor
//! (`require_mfa`), so that the runtime refuses their members' tokens of a
//! login without one (see [`crate::service`]) without a round trip, and
//! the tenants with a request rate of their own (`olympus admin
//! tenant-rate`), for [`crate::fairness::Rates`].
//!
//! The same reads bring the signing keys' public halves and states (see
//! [`crate::tokens`]): a key added, activated, retired or revoked anywhere
//! is known here within a poll, or at once when `olympus keys` says so on
//! the broadcast (`keys_changed`, a read at most every 100 ms), and knowledge of keys goes stale with
//! knowledge of revocations.
//!
//! The tables it reads are the workers' (auth's sessions and signing keys,
//! tenant's tenants): they say how ([`Sources`]), and the runtime names
//! none.

use anyhow::Context as _;
use chrono::{DateTime, Duration as TimeDelta, Utc};
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use std::collections::{HashMap, HashSet};
use std::sync::RwLock;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::clock::Clock;
use crate::fairness::Rates;
use crate::tokens::{AccessTokens, KeyRow};

/// How often Postgres is read.
pub const POLL: Duration = Duration::from_millis(250);

/// Knowledge older than this is not trusted.
pub const STALE_AFTER: Duration = Duration::from_secs(3);

/// Revocations read again each time, in case a transaction committed late.
const OVERLAP_SECS: i64 = 10;

/// Why a session's tokens are refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    Revoked,
    TenantSuspended,
    /// This process cannot vouch for its knowledge right now.
    Stale,
}

/// How revocations are read from the workers' tables.
#[derive(Debug, Clone, Copy)]
pub struct Sources {
    /// `(id uuid, revoked_at timestamptz)` of every session revoked after
    /// `$1` (a `timestamptz`).
    pub revoked_sessions: &'static str,
    /// `(id uuid, suspended bool, require_mfa bool, request_rate int4,
    /// request_burst int4)` of every tenant that is suspended, requires MFA
    /// of its members or has a request rate of its own (the rate and burst
    /// NULL when it has none).
    pub tenants: &'static str,
    /// Every signing key, as [`crate::tokens::KeyRow`]s.
    pub signing_keys: &'static str,
}

/// The revocation broadcast (`{prefix}.internal.revocations`), JSON.
#[derive(Debug, Serialize, Deserialize)]
struct Broadcast {
    #[serde(default)]
    sessions: Vec<Uuid>,
    revoked_at: DateTime<Utc>,
    /// The signing keys changed (`olympus keys`): read them now rather
    /// than at the next poll.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    keys_changed: bool,
}

/// Forced reads (a broadcast that keys changed) happen at most this often,
/// whoever publishes them: a later one waits for its turn.
const FORCED_READ_EVERY: Duration = Duration::from_millis(100);

/// What this process knows of revoked sessions and suspended tenants.
#[derive(Debug)]
pub struct Revocations {
    /// How long an access token lives, with the verification leeway.
    lifetime: TimeDelta,
    /// Each tenant's request rate, given the tenants' own as read.
    rates: std::sync::Arc<Rates>,
    state: RwLock<State>,
}

#[derive(Debug, Default)]
struct State {
    sessions: HashMap<Uuid, DateTime<Utc>>,
    suspended: HashSet<Uuid>,
    /// Tenants that require MFA.
    require_mfa: HashSet<Uuid>,
    /// Latest `revoked_at` read from Postgres.
    watermark: Option<DateTime<Utc>>,
    synced_at: Option<Instant>,
    /// What this process changed itself, and when: a read of Postgres
    /// begun before a change committed does not see it, and must not undo
    /// it until the next read.
    changed: Vec<(Flag, Uuid, bool, Instant)>,
}

/// A tenant's flag this process may change itself.
#[derive(Debug, Clone, Copy)]
enum Flag {
    Suspended,
    RequiresMfa,
}

impl State {
    fn flagged(&mut self, flag: Flag) -> &mut HashSet<Uuid> {
        match flag {
            Flag::Suspended => &mut self.suspended,
            Flag::RequiresMfa => &mut self.require_mfa,
        }
    }

    /// Sets `flag` of `tenant` now, as this process changed it.
    fn change(&mut self, flag: Flag, tenant: Uuid, value: bool) {
        mark(self.flagged(flag), tenant, value);
        self.changed.push((flag, tenant, value, Instant::now()));
    }

    /// The tenants' flags as a read begun at `started` found them, but for
    /// the changes this process made since it began (that read may not
    /// have seen them; the next one does).
    fn take_tenants(&mut self, tenants: &[TenantRow], started: Instant) {
        self.suspended = tenants.iter().filter(|t| t.1).map(|t| t.0).collect();
        self.require_mfa = tenants.iter().filter(|t| t.2).map(|t| t.0).collect();
        self.changed.retain(|change| change.3 >= started);
        for (flag, tenant, value, _) in self.changed.clone() {
            mark(self.flagged(flag), tenant, value);
        }
    }
}

impl Revocations {
    /// Knowledge for access tokens living `token_ttl`, keeping `rates`
    /// current.
    pub fn new(token_ttl: Duration, rates: std::sync::Arc<Rates>) -> Self {
        let lifetime = TimeDelta::from_std(token_ttl).unwrap_or(TimeDelta::MAX)
            + TimeDelta::seconds(crate::tokens::LEEWAY_SECS as i64);
        Self {
            lifetime,
            rates,
            state: RwLock::default(),
        }
    }

    /// Each tenant's request rate (see [`crate::fairness`]).
    pub fn rates(&self) -> &std::sync::Arc<Rates> {
        &self.rates
    }

    /// Time since the last successful read of Postgres (`None` before the
    /// first).
    pub fn age(&self) -> Option<Duration> {
        let state = self.state.read().unwrap_or_else(|e| e.into_inner());
        state.synced_at.map(|at| at.elapsed())
    }

    /// Whether the session's tokens are still honoured.
    pub fn check(&self, session_id: Uuid, tenant_id: Uuid) -> Result<(), Refusal> {
        let state = self.state.read().unwrap_or_else(|e| e.into_inner());
        if state.synced_at.is_none_or(|at| at.elapsed() >= STALE_AFTER) {
            return Err(Refusal::Stale);
        }
        if state.sessions.contains_key(&session_id) {
            return Err(Refusal::Revoked);
        }
        if state.suspended.contains(&tenant_id) {
            return Err(Refusal::TenantSuspended);
        }
        Ok(())
    }

    /// Records at once what this process changed: `tenant` suspended or
    /// reactivated (the other processes read it within [`POLL`]).
    pub fn set_suspended(&self, tenant: Uuid, suspended: bool) {
        let mut state = self.state.write().unwrap_or_else(|e| e.into_inner());
        state.change(Flag::Suspended, tenant, suspended);
    }

    /// Whether `tenant` requires MFA of its members, as last read (a
    /// stale knowledge is refused by [`Revocations::check`] first).
    pub fn requires_mfa(&self, tenant: Uuid) -> bool {
        let state = self.state.read().unwrap_or_else(|e| e.into_inner());
        state.require_mfa.contains(&tenant)
    }

    /// Records at once what this process changed: whether `tenant`
    /// requires MFA (the other processes read it within [`POLL`]).
    pub fn set_require_mfa(&self, tenant: Uuid, required: bool) {
        let mut state = self.state.write().unwrap_or_else(|e| e.into_inner());
        state.change(Flag::RequiresMfa, tenant, required);
    }

    /// Records sessions revoked at `at` (by this process or a broadcast).
    pub fn record(&self, sessions: &[Uuid], at: DateTime<Utc>) {
        let mut state = self.state.write().unwrap_or_else(|e| e.into_inner());
        for &id in sessions {
            state.sessions.insert(id, at);
        }
    }

    /// Reads what Postgres committed since the last read (everything still
    /// relevant, the first time) and forgets what no token can use anymore;
    /// gives `tokens` the signing keys as they are now.
    pub async fn sync(
        &self,
        sources: &Sources,
        (pool, tokens): (&PgPool, &AccessTokens),
        now: DateTime<Utc>,
    ) -> anyhow::Result<()> {
        let started = Instant::now();
        let since = {
            let state = self.state.read().unwrap_or_else(|e| e.into_inner());
            match state.watermark {
                Some(mark) => mark - TimeDelta::seconds(OVERLAP_SECS),
                None => now - self.lifetime,
            }
        };
        let revoked: Vec<(Uuid, DateTime<Utc>)> = sqlx::query_as(sources.revoked_sessions)
            .bind(since)
            .fetch_all(pool)
            .await
            .context("reading revoked sessions")?;
        let tenants: Vec<TenantRow> = sqlx::query_as(sources.tenants)
            .fetch_all(pool)
            .await
            .context("reading suspended tenants and those that require MFA")?;
        let keys: Vec<KeyRow> = sqlx::query_as(sources.signing_keys)
            .fetch_all(pool)
            .await
            .context("reading the signing keys")?;
        tokens.set_keys(&keys, now);
        self.rates.set_own(tenants.iter().filter_map(|t| {
            let rate = u32::try_from(t.3?).ok()?;
            Some((
                t.0,
                rate,
                t.4.and_then(|b| u32::try_from(b).ok()).unwrap_or(0),
            ))
        }));
        let mut state = self.state.write().unwrap_or_else(|e| e.into_inner());
        for (id, at) in revoked {
            state.watermark = Some(state.watermark.map_or(at, |mark| mark.max(at)));
            state.sessions.insert(id, at);
        }
        if state.watermark.is_none() {
            state.watermark = Some(since);
        }
        state.take_tenants(&tenants, started);
        let horizon = now - self.lifetime;
        state.sessions.retain(|_, at| *at > horizon);
        state.synced_at = Some(Instant::now());
        Ok(())
    }
}

/// A tenant as [`Sources::tenants`] reads it.
type TenantRow = (Uuid, bool, bool, Option<i32>, Option<i32>);

/// Puts `tenant` in `set` or takes it out.
fn mark(set: &mut HashSet<Uuid>, tenant: Uuid, member: bool) {
    if member {
        set.insert(tenant);
    } else {
        set.remove(&tenant);
    }
}

/// Tells every other process that `sessions` were revoked at `revoked_at`,
/// on `client` (the connection that answers no requests, see
/// `App::broadcast_on`).
pub async fn broadcast(
    client: &async_nats::Client,
    subjects: &olympus_contracts::Subjects,
    sessions: &[Uuid],
    revoked_at: DateTime<Utc>,
) {
    let broadcast = Broadcast {
        sessions: sessions.to_vec(),
        revoked_at,
        keys_changed: false,
    };
    let subject = subjects.internal("revocations");
    match serde_json::to_vec(&broadcast) {
        Ok(payload) => {
            if let Err(err) = client.publish(subject, payload.into()).await {
                tracing::warn!(error = %err, "broadcasting a revocation (others catch up from Postgres)");
            }
        }
        Err(err) => tracing::error!(error = %err, "encoding a revocation broadcast"),
    }
}

/// Tells every process that the signing keys changed, so that each reads
/// them at once instead of at its next poll (`olympus keys`; a process that
/// misses it reads them within [`POLL`]).
pub async fn broadcast_keys_changed(
    client: &async_nats::Client,
    subjects: &olympus_contracts::Subjects,
    at: DateTime<Utc>,
) -> anyhow::Result<()> {
    let broadcast = Broadcast {
        sessions: Vec::new(),
        revoked_at: at,
        keys_changed: true,
    };
    client
        .publish(
            subjects.internal("revocations"),
            serde_json::to_vec(&broadcast)?.into(),
        )
        .await?;
    client.flush().await?;
    Ok(())
}

/// What keeps a process's knowledge current (see [`run`]).
#[derive(Debug)]
pub struct Watch {
    pub revocations: std::sync::Arc<Revocations>,
    /// Where the signing keys read go.
    pub tokens: AccessTokens,
    pub sources: Sources,
    /// The owner pool: revocations cross tenants.
    pub pool: PgPool,
    pub nats: async_nats::Client,
    /// `{prefix}.internal.revocations`.
    pub subject: String,
    pub clock: std::sync::Arc<dyn Clock>,
}

/// Keeps this process's knowledge current until `stop`: listens to the
/// broadcast and reads Postgres every [`POLL`]. Call after a first
/// successful [`Revocations::sync`].
pub async fn run(watch: Watch, stop: CancellationToken) {
    let mut broadcasts = match watch.nats.subscribe(watch.subject.clone()).await {
        Ok(subscription) => Some(subscription),
        Err(err) => {
            tracing::warn!(error = %err, "not listening to revocation broadcasts (Postgres reads go on)");
            None
        }
    };
    let mut poll = tokio::time::interval(POLL);
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut failing = false;
    let mut last_forced: Option<Instant> = None;
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            Some(message) = async {
                match broadcasts.as_mut() {
                    Some(subscription) => subscription.next().await,
                    None => std::future::pending().await,
                }
            } => {
                match serde_json::from_slice::<Broadcast>(&message.payload) {
                    Ok(b) => {
                        watch.revocations.record(&b.sessions, b.revoked_at);
                        if b.keys_changed {
                            // At once, or as soon as the last forced read
                            // is FORCED_READ_EVERY old: never dropped.
                            let at = last_forced
                                .map_or_else(Instant::now, |last| (last + FORCED_READ_EVERY).max(Instant::now()));
                            last_forced = Some(at);
                            poll.reset_at(at.into());
                        }
                    }
                    Err(err) => tracing::warn!(error = %err, "ignoring a malformed revocation broadcast"),
                }
            }
            _ = poll.tick() => {
                match watch.revocations.sync(&watch.sources, (&watch.pool, &watch.tokens), watch.clock.now()).await {
                    Ok(()) if failing => {
                        failing = false;
                        tracing::info!("revocations: reading Postgres again");
                    }
                    Ok(()) => {}
                    Err(err) if !failing => {
                        failing = true;
                        tracing::warn!(error = format!("{err:#}"), "revocations: cannot read Postgres; bearer requests get unavailable once the knowledge is stale");
                    }
                    Err(_) => {}
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A poll that read Postgres before this process's change committed
    /// does not undo the change (a tenant that stopped requiring MFA kept
    /// refusing its members' tokens until the next poll); a change the
    /// read began after is the read's to say.
    #[test]
    fn a_read_begun_before_a_change_does_not_undo_it() {
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        let mut state = State::default();
        state.change(Flag::RequiresMfa, a, true);
        state.change(Flag::Suspended, b, true);
        let started = Instant::now();
        state.change(Flag::RequiresMfa, a, false);
        // Read before that change: a still requires MFA, b is suspended.
        state.take_tenants(
            &[(a, false, true, None, None), (b, true, false, None, None)],
            started,
        );
        assert!(!state.require_mfa.contains(&a));
        assert!(state.suspended.contains(&b));
        // A read begun after it says what Postgres holds, and the change
        // is forgotten.
        state.take_tenants(&[(b, false, false, None, None)], Instant::now());
        assert!(!state.require_mfa.contains(&a));
        assert!(!state.suspended.contains(&b));
        assert!(state.changed.is_empty());
    }
}
