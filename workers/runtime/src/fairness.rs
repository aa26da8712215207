//! Scheduling by party: an operation's capacity shared fairly among the
//! tenants (and anonymous callers) that are asking, so that one tenant's
//! flood waits and is shed in its own line, never in another's.
//!
//! Each operation holds at most `cap` requests admitted, running or
//! waiting (half of the process's `OLYMPUS_MAX_IN_FLIGHT`). A party alone
//! runs them all at once, as it always did. Once several parties are
//! active (each running [`ACTIVE_FROM`] requests or more on average over
//! about [`AVERAGED_OVER`]: not a party that asks now and then, nor the
//! first requests of new tokens, "unverified" below), about `running_cap` run
//! at once (1/128 of `OLYMPUS_MAX_IN_FLIGHT`, 4 by default: more running
//! would only share the same cores among more requests, each slower; two
//! tenants' `orders.create` at once, bound by Postgres, went as fast with
//! 4 as with 8 or without the cap), and
//! each party runs at most its part of them (`running_cap` divided among
//! the active parties, at least one), even while the others leave theirs
//! unused: a quiet tenant's requests come and go, and each request a flood
//! runs costs the cores beyond the worker too (its client, NATS, Postgres),
//! so a flood running all that the quiet tenant leaves would make the
//! quiet tenant's next requests slow. A request runs at once while its
//! party runs fewer than its part and waits for nothing, and the operation
//! has room or its party runs fewer than its share of the parties running;
//! otherwise it waits in its party's line, and the lines take turns, one
//! request each, as running requests end (round robin), skipping the
//! parties running their part: a quiet tenant's request runs at once, not
//! behind a flood's line.
//! Once the operation holds `cap` requests, a request of a party holding
//! its fair share of them (`cap` divided among the parties with requests
//! admitted, this one counted) or more is shed (`unavailable`, with
//! `retry_after_secs`): the flood is shed, a party within its share never.
//! All parties together hold at most twice the cap: past that, every
//! request is shed (only when more parties ask at once than the cap has
//! places).
//!
//! A shed request is answered after [`SHED_DELAY`]. All of an operation's
//! requests reach the worker in one queue (one subject, in arrival order),
//! so a flood answered at once and sent again at once, ignoring
//! `retry_after_secs`, would keep that queue full ahead of every other
//! tenant's request; held a moment, its callers wait instead of churning.
//!
//! Who a request's party is ([`Party::of`]) is read before anything else
//! runs, without trusting the request: a bearer request's tenant is the
//! one its token names only when this process has already verified that
//! token's signature (the tokens it remembers, see
//! [`crate::tokens::AccessTokens`]); a token seen for the first time, or a
//! forged one, is the party "unverified", never the tenant it claims (a
//! flood of forged tokens naming a tenant cannot use that tenant's share).
//! A public request (no token) is its client's address as the gateway
//! forwards it (`X-Client-Ip`), or "anonymous".

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::sync::oneshot;
use uuid::Uuid;

/// Each tenant's rate of requests to this process: a token bucket per
/// tenant, refilled at its rate a second up to its burst. A tenant's own
/// limit, set by a platform operator (`olympus admin tenant-rate`, stored
/// on the tenant and read with the revocations, see
/// [`crate::revocation`]), or else the configured default
/// (`OLYMPUS_TENANT_RATE`, `OLYMPUS_TENANT_BURST`). Kept in each process (a
/// tenant may send up to N times its rate to N processes); at most
/// [`MAX_BUCKETS`] tenants are remembered, full buckets (idle tenants)
/// forgotten first.
#[derive(Debug)]
pub struct Rates {
    default: Option<Limit>,
    /// Tenants with a limit of their own: `None` for no limit.
    own: std::sync::RwLock<HashMap<Uuid, Option<Limit>>>,
    /// Each tenant's tokens, when last taken, under which limit.
    buckets: Mutex<HashMap<Uuid, (f64, Instant, Limit)>>,
}

/// A steady rate a second and a burst.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limit {
    rate: f64,
    burst: f64,
}

impl Limit {
    /// `rate` requests a second, `burst` at once (0: one second's worth);
    /// `None` when `rate` is 0 (no limit).
    pub fn new(rate: u32, burst: u32) -> Option<Self> {
        (rate > 0).then(|| Self {
            rate: f64::from(rate),
            burst: f64::from(if burst == 0 { rate } else { burst }),
        })
    }
}

/// Tenants whose buckets a process remembers at most.
pub const MAX_BUCKETS: usize = 100_000;

impl Rates {
    /// Every tenant at `rate` and `burst` (see [`Limit::new`]) unless it
    /// has its own.
    pub fn new(rate: u32, burst: u32) -> Arc<Self> {
        Arc::new(Self {
            default: Limit::new(rate, burst),
            own: std::sync::RwLock::default(),
            buckets: Mutex::default(),
        })
    }

    /// The tenants with a limit of their own, as last read: `(rate,
    /// burst)` each, a rate of 0 for no limit (see [`Limit::new`]).
    pub fn set_own(&self, own: impl IntoIterator<Item = (Uuid, u32, u32)>) {
        let own = own
            .into_iter()
            .map(|(tenant, rate, burst)| (tenant, Limit::new(rate, burst)))
            .collect();
        *self.own.write().unwrap_or_else(|e| e.into_inner()) = own;
    }

    /// `tenant`'s limit: its own, or the default.
    fn limit(&self, tenant: Uuid) -> Option<Limit> {
        let own = self.own.read().unwrap_or_else(|e| e.into_inner());
        own.get(&tenant).copied().unwrap_or(self.default)
    }

    /// Takes one request of `tenant` at `now`: `Err` with the seconds
    /// until one is allowed when its bucket is empty.
    pub fn take(&self, tenant: Uuid, now: Instant) -> Result<(), u64> {
        let Some(limit) = self.limit(tenant) else {
            return Ok(());
        };
        let Limit { rate, burst } = limit;
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if buckets.len() >= MAX_BUCKETS && !buckets.contains_key(&tenant) {
            // Full again: idle long enough that forgetting it changes
            // nothing.
            buckets.retain(|_, (tokens, at, limit)| {
                *tokens + now.duration_since(*at).as_secs_f64() * limit.rate < limit.burst
            });
        }
        let (tokens, at, kept) = buckets.entry(tenant).or_insert((burst, now, limit));
        *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * rate).min(burst);
        *at = now;
        *kept = limit;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - *tokens) / rate).ceil().max(1.0) as u64)
        }
    }
}

/// Over how long a party's requests running are averaged (the time
/// constant of an exponential moving average, see [the module](self)).
pub const AVERAGED_OVER: std::time::Duration = std::time::Duration::from_secs(1);

/// A party is active while it runs at least this many requests on
/// average: one running a request now and then (a new token's first
/// request, a start-up burst of a few milliseconds) is not.
pub const ACTIVE_FROM: f64 = 0.5;

/// How often the active parties are counted again.
pub const COUNTED_EVERY: std::time::Duration = std::time::Duration::from_millis(50);

/// How long a shed request is held before its `unavailable` (see [the
/// module](self)).
pub const SHED_DELAY: std::time::Duration = std::time::Duration::from_millis(500);

/// Who a request counts against.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Party {
    /// A tenant, from a token this process has verified.
    Tenant(Uuid),
    /// A bearer request whose token this process has not verified yet.
    Unverified,
    /// A public request from this client address.
    Client(String),
    /// A public request without a client address.
    Anonymous,
}

impl Party {
    /// The party of a request: `token` for a bearer operation (`None` for a
    /// public one), `client_ip` as the gateway forwards it, and
    /// `remembered`, the tenant of a token this process has verified.
    pub fn of(
        bearer: bool,
        token: Option<&str>,
        client_ip: Option<&str>,
        remembered: impl FnOnce(&str) -> Option<Uuid>,
    ) -> Self {
        if bearer {
            return token
                .and_then(remembered)
                .map_or(Self::Unverified, Self::Tenant);
        }
        crate::bounds::client_ip(client_ip).map_or(Self::Anonymous, Self::Client)
    }

    /// A bounded label for metrics: the tenant's id, or the kind.
    pub fn label(&self) -> String {
        match self {
            Self::Tenant(id) => id.to_string(),
            Self::Unverified => "unverified".to_owned(),
            Self::Client(_) => "public".to_owned(),
            Self::Anonymous => "anonymous".to_owned(),
        }
    }
}

/// One operation's scheduler (see [the module](self)).
#[derive(Debug)]
pub struct Fair {
    /// Requests admitted at most (running and waiting), before the share
    /// rule sheds.
    cap: usize,
    /// Requests running at most; the others wait their party's turn.
    running_cap: usize,
    /// Whether a party beside others runs only its part of the running
    /// cap ([`Fair::party_limit`]); not for places, which never wait.
    parts: bool,
    /// Each tenant's rate (see [`Rates`]), shared by the process's
    /// operations.
    rates: Arc<Rates>,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    running: usize,
    /// Each party's requests running, now and on average; a party with
    /// none and an average near 0 has no entry.
    usage: HashMap<Party, Usage>,
    /// Parties with requests running.
    running_parties: usize,
    /// Requests admitted per party (running and waiting); a party with
    /// none has no entry.
    held: HashMap<Party, usize>,
    /// Each party's waiting requests, first come first served.
    waiting: HashMap<Party, VecDeque<oneshot::Sender<()>>>,
    /// The parties with waiting requests, in turn.
    turns: VecDeque<Party>,
    /// Parties running [`ACTIVE_FROM`] requests or more on average, as
    /// last counted. A quiet tenant's requests come and go, and a flood
    /// must not run all of the cap in between.
    active: usize,
    /// When the active parties are next counted.
    count_at: Option<Instant>,
    /// Requests received, shed and limited per party label (see
    /// [`Fair::counts`]).
    counts: HashMap<Label, (u64, u64, u64)>,
}

/// One party's requests running: now, and on average over about
/// [`AVERAGED_OVER`] (as of `at`).
#[derive(Debug, Default)]
struct Usage {
    runs: usize,
    average: f64,
    at: Option<Instant>,
}

impl Usage {
    /// Brings the average to `now`, `runs` having run since `at`.
    fn settle(&mut self, now: Instant) {
        if let Some(at) = self.at {
            let kept = (-now.duration_since(at).as_secs_f64() / AVERAGED_OVER.as_secs_f64()).exp();
            self.average = self.average * kept + self.runs as f64 * (1.0 - kept);
        }
        self.at = Some(now);
    }
}

/// A party as metrics name it: a tenant (the first [`LABELED_TENANTS`]),
/// or a kind (`other`, `unverified`, `public`, `anonymous`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Label {
    Tenant(Uuid),
    Kind(&'static str),
}

impl std::fmt::Display for Label {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Tenant(id) => write!(f, "{id}"),
            Self::Kind(kind) => f.write_str(kind),
        }
    }
}

/// Tenants counted by name per operation, at most; the others together
/// as `other`.
pub const LABELED_TENANTS: usize = 32;

impl State {
    fn count(&mut self, party: &Party, (shed, limited): (bool, bool)) {
        let mut label = match party {
            Party::Tenant(id) => Label::Tenant(*id),
            Party::Unverified => Label::Kind("unverified"),
            Party::Client(_) => Label::Kind("public"),
            Party::Anonymous => Label::Kind("anonymous"),
        };
        if matches!(label, Label::Tenant(_))
            && !self.counts.contains_key(&label)
            && self
                .counts
                .keys()
                .filter(|l| matches!(l, Label::Tenant(_)))
                .count()
                >= LABELED_TENANTS
        {
            label = Label::Kind("other");
        }
        let entry = self.counts.entry(label).or_default();
        entry.0 += 1;
        entry.1 += u64::from(shed);
        entry.2 += u64::from(limited);
    }
}

impl State {
    /// Counts the active parties again, at most every [`COUNTED_EVERY`],
    /// and forgets the parties idle long enough.
    fn recount(&mut self, now: Instant) {
        if self.count_at.is_some_and(|at| now < at) {
            return;
        }
        self.count_at = Some(now + COUNTED_EVERY);
        self.usage.retain(|_, usage| {
            usage.settle(now);
            usage.runs > 0 || usage.average >= 0.01
        });
        // Tokens seen for the first time are never active: every new
        // token's first requests count there, a burst of them when many
        // callers start at once, and a busy tenant would be held back
        // each time (a flood of forged tokens is refused at the signature
        // check, and sheds in its own line).
        self.active = self
            .usage
            .iter()
            .filter(|(party, usage)| **party != Party::Unverified && usage.average >= ACTIVE_FROM)
            .count();
    }

    fn admitted(&self) -> usize {
        self.held.values().sum()
    }

    /// Requests of `party` running.
    fn runs(&self, party: &Party) -> usize {
        self.usage.get(party).map_or(0, |usage| usage.runs)
    }

    fn start(&mut self, party: &Party, now: Instant) {
        self.running += 1;
        let usage = match self.usage.get_mut(party) {
            Some(usage) => usage,
            None => self.usage.entry(party.clone()).or_default(),
        };
        usage.settle(now);
        usage.runs += 1;
        if usage.runs == 1 {
            self.running_parties += 1;
        }
    }

    fn finish(&mut self, party: &Party, now: Instant) {
        self.running = self.running.saturating_sub(1);
        if let Some(usage) = self.usage.get_mut(party) {
            usage.settle(now);
            usage.runs = usage.runs.saturating_sub(1);
            if usage.runs == 0 {
                self.running_parties = self.running_parties.saturating_sub(1);
            }
        }
    }

    fn release(&mut self, party: &Party) {
        if let Some(held) = self.held.get_mut(party) {
            *held -= 1;
            if *held == 0 {
                self.held.remove(party);
            }
        }
    }
}

/// What [`Fair::admit`] decided.
#[derive(Debug)]
pub enum Admission {
    /// Run now.
    Run(Admitted),
    /// Wait for the party's turn ([`Admission::ready`]).
    Wait(Arc<Fair>, Party, oneshot::Receiver<()>),
    /// Shed: the operation is at its cap and the party holds its share.
    Shed,
    /// Refused: its tenant's rate is spent, for this many seconds.
    Limited(u64),
}

impl Admission {
    /// Waits for the request's turn; `None` if the scheduler is gone.
    pub async fn ready(self) -> Option<Admitted> {
        match self {
            Self::Run(admitted) => Some(admitted),
            Self::Wait(fair, party, turn) => {
                turn.await.ok()?;
                Some(Admitted { fair, party })
            }
            Self::Shed | Self::Limited(_) => None,
        }
    }

    /// Whether the request was shed (not limited).
    pub fn is_shed(&self) -> bool {
        matches!(self, Self::Shed)
    }
}

impl Fair {
    /// A scheduler admitting `cap` requests (at least 1), of which
    /// `running_cap` (at least 1) run at once.
    pub fn new(cap: usize, running_cap: usize, rates: Arc<Rates>) -> Arc<Self> {
        Arc::new(Self {
            cap: cap.max(1),
            running_cap: running_cap.clamp(1, cap.max(1)),
            parts: true,
            rates,
            state: Mutex::default(),
        })
    }

    /// A scheduler of places rather than turns: up to `cap` requests at
    /// once, none waiting ([`Fair::admit`] answers `Run` or `Shed`); past
    /// the cap a party holding its share of it is shed and one below its
    /// share admitted (all together at most twice the cap). No rate
    /// applies. The password hashing queue's places.
    pub fn places(cap: usize) -> Arc<Self> {
        Arc::new(Self {
            cap: cap.max(1),
            running_cap: cap.max(1),
            parts: false,
            rates: Rates::new(0, 0),
            state: Mutex::default(),
        })
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // Each use is a few map operations: a panic cannot leave it torn.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Admits a request of `party`: to run now while fewer than
    /// `running_cap` run and nobody waits; to wait its party's turn
    /// otherwise; shed when the operation holds `cap` requests and `party`
    /// its share of them or more; limited, before all that, when its
    /// tenant's rate is spent.
    pub fn admit(self: &Arc<Self>, party: Party) -> Admission {
        let now = Instant::now();
        let mut state = self.state();
        if let Party::Tenant(tenant) = &party {
            if let Err(after) = self.rates.take(*tenant, now) {
                state.count(&party, (false, true));
                return Admission::Limited(after);
            }
        }
        let holds = state.held.get(&party).copied().unwrap_or(0);
        let parties = state.held.len() + usize::from(holds == 0);
        let share = (self.cap / parties).max(1);
        let admitted = state.admitted();
        let shed = admitted >= 2 * self.cap || (admitted >= self.cap && holds >= share);
        state.count(&party, (shed, false));
        if shed {
            return Admission::Shed;
        }
        *state.held.entry(party.clone()).or_default() += 1;
        state.recount(now);
        // Its share of the running cap, while it runs fewer and has none
        // waiting (so that a quiet tenant never waits for a flood's line to
        // move); and the room of the running cap, or fewer than its share
        // of the running parties.
        let runs = state.runs(&party);
        if runs < self.party_limit(&state)
            && !state.waiting.contains_key(&party)
            && ((state.running < self.running_limit(&state) && state.turns.is_empty())
                || runs < self.running_share(&state, runs))
        {
            state.start(&party, now);
            return Admission::Run(Admitted {
                fair: Arc::clone(self),
                party,
            });
        }
        let (turn, wait) = oneshot::channel();
        let queue = state.waiting.entry(party.clone()).or_default();
        queue.push_back(turn);
        if queue.len() == 1 {
            state.turns.push_back(party.clone());
        }
        Admission::Wait(Arc::clone(self), party, wait)
    }

    /// How many may run: `cap` for one party alone (nobody to be fair
    /// to), `running_cap` once several are active.
    fn running_limit(&self, state: &State) -> usize {
        if state.active > 1 {
            self.running_cap
        } else {
            self.cap
        }
    }

    /// A party's share of the running cap among the parties running, this
    /// one counted (running `runs`).
    fn running_share(&self, state: &State, runs: usize) -> usize {
        let running_parties = state.running_parties + usize::from(runs == 0);
        (self.running_cap / running_parties).max(1)
    }

    /// How many one party may run: all of [`Fair::running_limit`] alone;
    /// beside others active, an equal part of the running cap, even while
    /// they leave theirs unused (their next requests run at once, and the
    /// cores are not all the flood's in between).
    fn party_limit(&self, state: &State) -> usize {
        match state.active {
            _ if !self.parts => self.cap,
            0 | 1 => self.cap,
            active => (self.running_cap / active).max(1),
        }
    }

    /// Starts waiting requests, one per party in turn, while fewer than
    /// the running limit run.
    fn dispatch(&self, state: &mut State, now: Instant) {
        // Parties at their limit keep their turn for later; once every
        // party with a turn was passed over, nobody more may run now.
        let mut passed = 0;
        while passed < state.turns.len() {
            let Some(party) = state.turns.pop_front() else {
                return;
            };
            // As a new request of its party would (but behind its line):
            // within its part, and under the running limit or below its
            // share of the parties running (a party whose requests come
            // one at a time would otherwise start past the limit every
            // time, and a line never move).
            let runs = state.runs(&party);
            if runs >= self.party_limit(state)
                || (state.running >= self.running_limit(state)
                    && runs >= self.running_share(state, runs))
            {
                state.turns.push_back(party);
                passed += 1;
                continue;
            }
            passed = 0;
            let Some(queue) = state.waiting.get_mut(&party) else {
                continue;
            };
            let next = queue.pop_front();
            if queue.is_empty() {
                state.waiting.remove(&party);
            } else {
                state.turns.push_back(party.clone());
            }
            if let Some(turn) = next {
                if turn.send(()).is_ok() {
                    state.start(&party, now);
                } else {
                    // Its request is gone (the process is stopping).
                    state.release(&party);
                }
            }
        }
    }

    /// Requests received, shed and limited so far, per party label.
    pub fn counts(&self) -> Vec<(Label, (u64, u64, u64))> {
        self.state().counts.iter().map(|(l, c)| (*l, *c)).collect()
    }

    /// Requests admitted, all parties together (running and waiting).
    pub fn in_flight(&self) -> usize {
        self.state().admitted()
    }
}

/// A running request, counted against its party until dropped; then the
/// next waiting request runs.
#[derive(Debug)]
pub struct Admitted {
    fair: Arc<Fair>,
    party: Party,
}

impl Drop for Admitted {
    fn drop(&mut self) {
        let mut state = self.fair.state();
        let now = Instant::now();
        state.finish(&self.party, now);
        state.release(&self.party);
        self.fair.dispatch(&mut state, now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tenant(n: u128) -> Party {
        Party::Tenant(Uuid::from_u128(n))
    }

    /// Counts the active parties as if their requests had run this long.
    fn later(fair: &Arc<Fair>, secs: u64) {
        let at = Instant::now() + std::time::Duration::from_secs(secs);
        let mut state = fair.state();
        state.count_at = None;
        state.recount(at);
    }

    fn run(fair: &Arc<Fair>, party: Party) -> Option<Admitted> {
        match fair.admit(party) {
            Admission::Run(admitted) => Some(admitted),
            _ => None,
        }
    }

    #[test]
    fn a_lone_party_runs_up_to_the_cap_and_is_shed_beyond() {
        let fair = Fair::new(8, 2, Rates::new(0, 0));
        let running: Vec<_> = (0..8).filter_map(|_| run(&fair, tenant(1))).collect();
        assert_eq!(running.len(), 8);
        assert!(fair.admit(tenant(1)).is_shed());
        drop(running);
        assert_eq!(fair.in_flight(), 0);
    }

    #[tokio::test]
    async fn beside_another_party_a_flood_waits_in_its_line_and_is_shed_past_its_share() {
        let fair = Fair::new(8, 2, Rates::new(0, 0));
        let quiet = run(&fair, tenant(2)).expect("alone, it runs");
        let flood_running = run(&fair, tenant(1)).expect("room for one more");
        // Two parties active: two run at once, one each; the flood's
        // second waits.
        later(&fair, 2);
        let flood: Vec<_> = (0..6).map(|_| fair.admit(tenant(1))).collect();
        assert!(flood.iter().all(|a| matches!(a, Admission::Wait(..))));
        // At the cap, the flood holds more than its share (4): shed.
        assert!(fair.admit(tenant(1)).is_shed());
        // The quiet party, within its share, is admitted; it runs its
        // part of the running cap (1 of 2) already, so it waits.
        let second = fair.admit(tenant(2));
        assert!(matches!(second, Admission::Wait(..)));
        // The quiet party's request ends: its part is its own again, its
        // second runs, and the flood, running its part, keeps waiting.
        drop(quiet);
        let turn = std::time::Duration::from_secs(1);
        let second_quiet = tokio::time::timeout(turn, second.ready()).await;
        assert!(second_quiet.unwrap().is_some());
        let mut flood = flood.into_iter();
        let mut first_flood = Box::pin(flood.next().unwrap().ready());
        assert!(futures::poll!(&mut first_flood).is_pending());
        drop(flood_running);
        let first_flood = tokio::time::timeout(turn, first_flood).await;
        assert!(first_flood.unwrap().is_some());
    }

    #[tokio::test]
    async fn a_quiet_party_runs_at_once_past_a_floods_line() {
        let fair = Fair::new(8, 2, Rates::new(0, 0));
        let a = run(&fair, tenant(1)).unwrap();
        let b = run(&fair, tenant(3)).unwrap();
        later(&fair, 2);
        let waiting: Vec<_> = (0..3).map(|_| fair.admit(tenant(1))).collect();
        assert!(waiting.iter().all(|a| matches!(a, Admission::Wait(..))));
        // Tenant 2 runs nothing: its share of the running cap is free.
        assert!(
            run(&fair, tenant(2)).is_some(),
            "not behind the flood's line"
        );
        drop((a, b));
    }

    #[tokio::test]
    async fn requests_gone_before_their_turn_give_their_place_back() {
        let fair = Fair::new(4, 1, Rates::new(0, 0));
        let first = run(&fair, tenant(1)).unwrap();
        let second = run(&fair, tenant(2)).unwrap();
        later(&fair, 2);
        let gone = fair.admit(tenant(1));
        let next = fair.admit(tenant(2));
        assert!(matches!(gone, Admission::Wait(..)) && matches!(next, Admission::Wait(..)));
        drop(gone);
        drop((first, second));
        assert!(next.ready().await.is_some());
        assert_eq!(fair.in_flight(), 0);
        assert!(fair.state().held.is_empty() && fair.state().waiting.is_empty());
    }

    #[test]
    fn a_tenants_rate_refills_and_other_tenants_keep_their_own() {
        let start = Instant::now();
        let (a, b) = (Uuid::from_u128(1), Uuid::from_u128(2));
        let unlimited = Rates::new(0, 5);
        assert!(
            (0..1000).all(|_| unlimited.take(a, start).is_ok()),
            "0: no limit"
        );
        let rates = Rates::new(2, 3);
        for _ in 0..3 {
            assert!(rates.take(a, start).is_ok(), "the burst");
        }
        assert_eq!(rates.take(a, start), Err(1));
        assert!(rates.take(b, start).is_ok(), "another tenant's bucket");
        let later = start + std::time::Duration::from_millis(500);
        assert!(
            rates.take(a, later).is_ok(),
            "one refilled in half a second at 2/s"
        );
        assert!(rates.take(a, later).is_err());
    }

    #[test]
    fn a_party_asking_now_and_then_does_not_hold_back_a_busy_one() {
        let fair = Fair::new(16, 2, Rates::new(0, 0));
        let busy: Vec<_> = (0..4).filter_map(|_| run(&fair, tenant(1))).collect();
        drop(run(&fair, tenant(2)).expect("a one-off request"));
        later(&fair, 2);
        assert_eq!(fair.state().active, 1, "only the busy party is active");
        // New tokens' first requests, however many, are never active.
        let first: Vec<_> = (0..4)
            .filter_map(|_| run(&fair, Party::Unverified))
            .collect();
        later(&fair, 2);
        assert_eq!(fair.state().active, 1);
        drop(first);
        let more: Vec<_> = (0..4).filter_map(|_| run(&fair, tenant(1))).collect();
        assert_eq!(more.len(), 4, "alone in effect: past the running cap");
        // Another party busy as long: both active, one running each.
        let other: Vec<_> = (0..2).filter_map(|_| run(&fair, tenant(2))).collect();
        assert_eq!(other.len(), 2);
        later(&fair, 2);
        assert_eq!(fair.state().active, 2);
        drop((busy, more));
        assert!(matches!(fair.admit(tenant(1)), Admission::Run(_)));
        assert!(
            matches!(fair.admit(tenant(2)), Admission::Wait(..)),
            "runs its part (1 of 2) already"
        );
        drop(other);
    }

    #[tokio::test]
    async fn a_line_moves_when_more_parties_run_one_each_than_the_running_cap() {
        let fair = Fair::new(64, 4, Rates::new(0, 0));
        let running: Vec<_> = (1..=6).filter_map(|n| run(&fair, tenant(n))).collect();
        assert_eq!(running.len(), 6);
        later(&fair, 2);
        // Six active, a part of one each: tenant 1's second waits.
        let second = fair.admit(tenant(1));
        assert!(matches!(second, Admission::Wait(..)));
        let mut running = running.into_iter();
        drop(running.next());
        // Five still run, past the running cap of 4; tenant 1 runs none,
        // below its share of the parties running: its line moves.
        let turn = std::time::Duration::from_secs(1);
        let started = tokio::time::timeout(turn, second.ready()).await;
        assert!(started.unwrap().is_some());
    }

    #[test]
    fn places_never_wait_and_past_the_cap_only_the_party_over_its_share_is_shed() {
        let fair = Fair::places(4);
        let flood: Vec<_> = (0..4).filter_map(|_| run(&fair, tenant(1))).collect();
        assert_eq!(flood.len(), 4, "alone, all of the places");
        assert!(fair.admit(tenant(1)).is_shed());
        let quiet = run(&fair, tenant(2)).expect("below its share: a place at once");
        let second = run(&fair, tenant(2)).expect("its share is 2 of 4");
        assert!(fair.admit(tenant(2)).is_shed(), "past its share");
        drop((flood, quiet, second));
        assert_eq!(fair.in_flight(), 0);
    }

    #[test]
    fn a_tenants_own_limit_replaces_the_default_and_can_lift_it() {
        let start = Instant::now();
        let (strict, exempt, other) = (Uuid::from_u128(1), Uuid::from_u128(2), Uuid::from_u128(3));
        let rates = Rates::new(2, 2);
        rates.set_own([(strict, 1, 1), (exempt, 0, 0)]);
        assert!(rates.take(strict, start).is_ok());
        assert_eq!(rates.take(strict, start), Err(1), "its own burst of 1");
        assert!(
            (0..100).all(|_| rates.take(exempt, start).is_ok()),
            "0: no limit"
        );
        assert!(rates.take(other, start).is_ok() && rates.take(other, start).is_ok());
        assert!(rates.take(other, start).is_err(), "the default burst of 2");
        // Cleared: the default again, from a full bucket of its size.
        rates.set_own([]);
        let later = start + std::time::Duration::from_secs(5);
        assert!(rates.take(strict, later).is_ok() && rates.take(strict, later).is_ok());
        assert!(rates.take(strict, later).is_err());
    }

    #[test]
    fn a_request_counts_against_what_this_process_verified() {
        let id = Uuid::from_u128(7);
        let known = |t: &str| (t == "verified").then_some(id);
        assert_eq!(
            Party::of(true, Some("verified"), None, known),
            Party::Tenant(id)
        );
        assert_eq!(
            Party::of(true, Some("forged"), None, known),
            Party::Unverified
        );
        assert_eq!(Party::of(true, None, None, known), Party::Unverified);
        assert_eq!(
            Party::of(false, None, Some(" 192.0.2.1 "), known),
            Party::Client("192.0.2.1".into())
        );
        assert_eq!(
            Party::of(false, None, Some("not an ip"), known),
            Party::Anonymous
        );
    }
}
