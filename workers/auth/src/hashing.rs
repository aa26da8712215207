//! Password hashing: Argon2id at one of OWASP's minimum configurations,
//! `OLYMPUS_ARGON2_PARAMS` ([`Argon2Params`]; by default m=7168 KiB, t=5,
//! p=1). OWASP lists five as equal in defence, trading memory for passes
//! (19 MiB with t=2, 12 MiB with t=3, 7 MiB with t=5, ...). Two hashes run
//! side by side on a two-core machine, and their blocks share the
//! last-level cache (32 MiB where Olympus is measured, with the
//! neighbours' data): the smaller the blocks, the less they evict each
//! other. There logins went 20 % faster from 19 MiB to 12 MiB, and about
//! as much again from 12 MiB to 7 MiB, with 5 MiB less per hashing thread
//! each time (docs/performance.md). Hashes stored with other parameters (the
//! former defaults, 19 MiB with t=2 and 12 MiB with t=3, or another
//! configuration) keep verifying with theirs, in memory allocated for that
//! verify when they need more than the block, until their user's next
//! login stores a new one ([`Passwords::is_outdated`]).
//!
//! Hashing is CPU- and memory-heavy, so it runs on `concurrency` threads of
//! its own, each with one memory block allocated at start and reused
//! for every hash (so the process's memory does not grow with load, as it
//! did when each hash allocated its block on the blocking pool and the
//! allocator kept them), and the async threads stay free for cheap requests
//! while logins pour in. The queue in
//! front of it is bounded too: a request first takes a [`Slot`] (one of
//! `concurrency + queue`, below), before any other work; when none is left
//! it is answered at once with `unavailable`, so a flood of logins gets
//! quick answers instead of time-outs and never holds the requests behind
//! it.
//!
//! Both are shared fairly among the parties asking (issue 37; a request's
//! party is its tenant for a bearer request, its client address for a
//! public one, [`olympus_runtime::Ctx::party`]): once the places are
//! taken, only a party holding its share of them or more is shed, and
//! every request once twice as many are taken (many parties at once)
//! ([`olympus_runtime::fairness::Fair::places`]), and the hashing threads
//! take the parties' hashes in turns, one each (round robin), so that a
//! flood of logins from one address neither takes another's places nor
//! makes its hashes wait behind the flood's line.
//! [`Slot::verify`] with no stored hash verifies against a dummy hash, so a
//! login for an unknown user costs the same as a wrong password.
//!
//! Time spent hashing, waiting included, is not the request's database
//! time ([`olympus_runtime::deadline::exempt`]).
//!
//! One hasher serves every worker of a process that hashes (auth, and the
//! tenant worker's signup), kept beside the app ([`passwords`]); a process
//! that runs neither never builds it.

use anyhow::Context;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{Output, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use olympus_contracts::Secret;
use olympus_runtime::fairness::{Admission, Admitted, Fair, Party};
use olympus_runtime::metrics::Spent;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Condvar, Mutex};

pub use olympus_runtime::config::Argon2Params;
use olympus_runtime::{App, Error};

/// The process's hasher, sized by `OLYMPUS_ARGON2_CONCURRENCY` (default:
/// the machine's cores) and `OLYMPUS_ARGON2_QUEUE`, hashing with
/// `OLYMPUS_ARGON2_PARAMS`, made on first use.
pub fn passwords(app: &App) -> Result<Arc<Passwords>, Error> {
    prepare(app).map_err(Error::internal)
}

/// Builds the process's hasher now (it computes the dummy hash), so that
/// the first login does not; `olympus serve` calls it before it is ready
/// when it runs a worker that hashes.
pub fn prepare(app: &App) -> anyhow::Result<Arc<Passwords>> {
    app.extension(|app| {
        let config = app.config();
        let concurrency = config.argon2_concurrency.unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(usize::from)
                .unwrap_or(2)
        });
        let params = config.argon2_params;
        let passwords = Passwords::new(concurrency, config.argon2_queue, params)?
            .counting_in(app.metrics().password_hashing());
        tracing::info!(
            concurrency,
            queue = config.argon2_queue,
            params = %params,
            "password hasher ready"
        );
        Ok(passwords)
    })
}

/// The password hasher shared by all workers of a process.
#[derive(Clone)]
pub struct Passwords {
    /// Work for the hashing threads.
    jobs: Arc<Jobs>,
    /// Hashes running or waiting, by party.
    places: Arc<Fair>,
    dummy_hash: Arc<str>,
    params: Argon2Params,
    /// What requests waited for hashing, for `/metrics`.
    spent: Arc<Spent>,
}

/// A place among the hashes running or waiting, held by one request (for
/// as many hashes as it needs, one after another).
#[derive(Debug)]
pub struct Slot {
    passwords: Passwords,
    party: Party,
    _place: Admitted,
}

impl std::fmt::Debug for Passwords {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Passwords")
            .field("places_taken", &self.places.in_flight())
            .finish_non_exhaustive()
    }
}

/// The hashes waiting for a thread, one line per party, the lines taking
/// turns (see [the module](self)).
#[derive(Default)]
struct Lines {
    state: Mutex<LinesState>,
    /// Signalled when a job is added or the lines close.
    ready: Condvar,
}

#[derive(Default)]
struct LinesState {
    lines: HashMap<Party, VecDeque<Job>>,
    /// The parties with jobs waiting, in turn.
    turns: VecDeque<Party>,
    /// No hasher is left: the threads end.
    closed: bool,
}

impl Lines {
    fn state(&self) -> std::sync::MutexGuard<'_, LinesState> {
        // A few queue operations at a time: a panic cannot leave it torn.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Puts `job` at the end of `party`'s line.
    fn push(&self, party: &Party, job: Job) {
        let mut state = self.state();
        let line = state.lines.entry(party.clone()).or_default();
        line.push_back(job);
        if line.len() == 1 {
            state.turns.push_back(party.clone());
        }
        drop(state);
        self.ready.notify_one();
    }

    /// The next party's first job, waiting for one; `None` once closed.
    fn next(&self) -> Option<Job> {
        let mut state = self.state();
        loop {
            if state.closed {
                return None;
            }
            if let Some(party) = state.turns.pop_front() {
                let Some(line) = state.lines.get_mut(&party) else {
                    continue;
                };
                let job = line.pop_front();
                if line.is_empty() {
                    state.lines.remove(&party);
                } else {
                    state.turns.push_back(party);
                }
                if let Some(job) = job {
                    return Some(job);
                }
                continue;
            }
            state = self.ready.wait(state).unwrap_or_else(|e| e.into_inner());
        }
    }
}

/// The lines, as the hasher holds them: when the last hasher is gone, the
/// lines close and the threads end (a waiting hash answers that they
/// stopped).
struct Jobs(Arc<Lines>);

impl Drop for Jobs {
    fn drop(&mut self) {
        self.0.state().closed = true;
        self.0.ready.notify_all();
    }
}

/// What a hashing thread is asked to do.
enum Work {
    Hash(Secret),
    Verify(Secret, String),
}

struct Job {
    work: Work,
    done: tokio::sync::oneshot::Sender<anyhow::Result<Done>>,
}

enum Done {
    Hashed(String),
    Verified(bool),
}

fn argon2(params: Argon2Params) -> anyhow::Result<Argon2<'static>> {
    let params = Params::new(
        params.memory_kib(),
        params.passes(),
        params.parallelism(),
        None,
    )
    .map_err(|e| anyhow::anyhow!("argon2 parameters: {e}"))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// A PHC string of `password`, hashed in `blocks`.
fn hash_into(
    argon2: &Argon2<'_>,
    password: &Secret,
    blocks: &mut [Block],
) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    let mut salt_bytes = [0u8; 64];
    let raw_salt = salt
        .as_salt()
        .decode_b64(&mut salt_bytes)
        .map_err(|e| anyhow::anyhow!("decoding a fresh salt: {e}"))?;
    let mut out = [0u8; 32];
    argon2
        .hash_password_into_with_memory(password.expose().as_bytes(), raw_salt, &mut out, blocks)
        .map_err(|e| anyhow::anyhow!("hashing a password: {e}"))?;
    let output = Output::new(&out).map_err(|e| anyhow::anyhow!("hash output: {e}"))?;
    let params = argon2.params();
    Ok(format!(
        "$argon2id$v=19$m={},t={},p={}${}${output}",
        params.m_cost(),
        params.t_cost(),
        params.p_cost(),
        salt.as_str()
    ))
}

/// Whether `password` matches the PHC string `stored`, computed in
/// `blocks` (or in fresh memory when `stored` asks for more).
fn verify_into(password: &Secret, stored: &str, blocks: &mut [Block]) -> anyhow::Result<bool> {
    let parsed = PasswordHash::new(stored)
        .map_err(|e| anyhow::anyhow!("stored password hash is malformed: {e}"))?;
    let params = Params::try_from(&parsed)
        .map_err(|e| anyhow::anyhow!("stored password hash parameters: {e}"))?;
    let algorithm = Algorithm::try_from(parsed.algorithm)
        .map_err(|e| anyhow::anyhow!("stored password hash algorithm: {e}"))?;
    let version = parsed
        .version
        .map(Version::try_from)
        .transpose()
        .map_err(|e| anyhow::anyhow!("stored password hash version: {e}"))?
        .unwrap_or(Version::V0x13);
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        anyhow::bail!("stored password hash has no salt or output");
    };
    let mut salt_bytes = [0u8; 64];
    let raw_salt = salt
        .decode_b64(&mut salt_bytes)
        .map_err(|e| anyhow::anyhow!("stored salt: {e}"))?;
    let hasher = Argon2::new(algorithm, version, params.clone());
    let mut out = vec![0u8; expected.len()];
    let needed = params.block_count();
    let computed = if needed <= blocks.len() {
        hasher.hash_password_into_with_memory(
            password.expose().as_bytes(),
            raw_salt,
            &mut out,
            &mut blocks[..needed],
        )
    } else {
        hasher.hash_password_into(password.expose().as_bytes(), raw_salt, &mut out)
    };
    computed.map_err(|e| anyhow::anyhow!("verifying a password: {e}"))?;
    let output = Output::new(&out).map_err(|e| anyhow::anyhow!("hash output: {e}"))?;
    // Output's equality is constant-time.
    Ok(output == expected)
}

/// One hashing thread: its memory is allocated once and reused for every
/// hash, so memory does not grow with load.
fn hashing_thread(lines: Arc<Lines>, params: Argon2Params) {
    let Ok(argon2) = argon2(params) else { return };
    let mut blocks = vec![Block::default(); argon2.params().block_count()];
    while let Some(job) = lines.next() {
        let done = match job.work {
            Work::Hash(password) => hash_into(&argon2, &password, &mut blocks).map(Done::Hashed),
            Work::Verify(password, stored) => {
                verify_into(&password, &stored, &mut blocks).map(Done::Verified)
            }
        };
        let _ = job.done.send(done);
    }
}

impl Passwords {
    /// A hasher running at most `concurrency` hashes at once, on as many
    /// threads each with its own memory block (`params`' memory), with at
    /// most `queue` more waiting; new hashes are made with `params`.
    pub fn new(concurrency: usize, queue: usize, params: Argon2Params) -> anyhow::Result<Self> {
        let argon2 = argon2(params)?;
        let mut blocks = vec![Block::default(); argon2.params().block_count()];
        let dummy_hash = hash_into(&argon2, &Secret::new("olympus dummy password"), &mut blocks)?;
        drop(blocks);
        let lines = Arc::new(Lines::default());
        // Made first: if a thread cannot start, dropping it ends the others.
        let jobs = Arc::new(Jobs(Arc::clone(&lines)));
        for i in 0..concurrency.max(1) {
            let lines = Arc::clone(&lines);
            std::thread::Builder::new()
                .name(format!("argon2-{i}"))
                .spawn(move || hashing_thread(lines, params))
                .context("starting a password hashing thread")?;
        }
        Ok(Self {
            jobs,
            places: Fair::places(concurrency.max(1) + queue),
            dummy_hash: dummy_hash.into(),
            params,
            spent: Arc::default(),
        })
    }

    /// The same hasher, counting the time requests wait for it in `spent`
    /// (the process's `olympus_password_hashing_seconds_total`).
    pub fn counting_in(mut self, spent: Arc<Spent>) -> Self {
        self.spent = spent;
        self
    }

    /// The parameters new hashes are made with.
    pub fn params(&self) -> Argon2Params {
        self.params
    }

    /// Whether `stored` was made otherwise than [`Slot::hash`] makes a hash
    /// now (other parameters, algorithm or version): a login that verifies
    /// it stores a new one. A hash that does not parse is left alone.
    pub fn is_outdated(&self, stored: &str) -> bool {
        let Ok(parsed) = PasswordHash::new(stored) else {
            return false;
        };
        let Ok(params) = Params::try_from(&parsed) else {
            return false;
        };
        let current = self.params;
        parsed.algorithm != Algorithm::Argon2id.ident()
            || parsed.version != Some(Version::V0x13 as u32)
            || (params.m_cost(), params.t_cost(), params.p_cost())
                != (
                    current.memory_kib(),
                    current.passes(),
                    current.parallelism(),
                )
    }

    /// Takes a place in the hashing queue for `party`, or `unavailable`
    /// (with `retry_after_secs`) when it is full and `party` holds its
    /// share of it. Take it before the request's other work, so that a
    /// shed request costs next to nothing.
    pub fn admit(&self, party: Party) -> Result<Slot, Error> {
        match self.places.admit(party.clone()) {
            Admission::Run(place) => Ok(Slot {
                passwords: self.clone(),
                party,
                _place: place,
            }),
            // Places never wait (Fair::places); a rate never applies.
            _ => {
                tracing::debug!("password hashing queue full: shedding the request");
                Err(Error::overloaded())
            }
        }
    }
}

impl Slot {
    /// A PHC string `$argon2id$v=19$m=7168,t=5,p=1$...` (with the
    /// configured parameters).
    pub async fn hash(&self, password: &Secret) -> anyhow::Result<String> {
        match self.run(Work::Hash(password.clone())).await? {
            Done::Hashed(hash) => Ok(hash),
            Done::Verified(_) => anyhow::bail!("the hashing thread answered another question"),
        }
    }

    /// Whether `password` matches `stored`; with no stored hash, does the
    /// same work against a dummy and returns false.
    pub async fn verify(&self, password: &Secret, stored: Option<&str>) -> anyhow::Result<bool> {
        let (stored, real) = match stored {
            Some(stored) => (stored.to_owned(), true),
            None => (self.passwords.dummy_hash.to_string(), false),
        };
        match self.run(Work::Verify(password.clone(), stored)).await? {
            Done::Verified(matches) => Ok(real && matches),
            Done::Hashed(_) => anyhow::bail!("the hashing thread answered another question"),
        }
    }

    async fn run(&self, work: Work) -> anyhow::Result<Done> {
        let started = std::time::Instant::now();
        let (done, answer) = tokio::sync::oneshot::channel();
        self.passwords.jobs.0.push(&self.party, Job { work, done });
        // Not the database's time: a hash waiting its turn behind a burst of
        // logins must not use up the request's database time.
        let answered = olympus_runtime::deadline::exempt(answer).await;
        self.passwords.spent.record(started.elapsed());
        answered.context("a password hashing thread stopped")?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEFAULT: Argon2Params = Argon2Params::DEFAULT;

    #[tokio::test]
    async fn hashes_are_argon2id_with_owasp_parameters_and_verify() {
        let passwords = Passwords::new(2, 4, DEFAULT).unwrap();
        let secret = Secret::new("correct horse battery staple");
        let hash = passwords
            .admit(Party::Anonymous)
            .unwrap()
            .hash(&secret)
            .await
            .unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=7168,t=5,p=1$"), "{hash}");
        let verify = |password: Secret, stored: Option<String>| {
            let slot = passwords.admit(Party::Anonymous).unwrap();
            async move { slot.verify(&password, stored.as_deref()).await.unwrap() }
        };
        assert!(verify(secret.clone(), Some(hash.clone())).await);
        assert!(!verify(Secret::new("wrong"), Some(hash)).await);
        assert!(!verify(secret, None).await);
    }

    #[tokio::test]
    async fn hashes_agree_with_the_argon2_crates_own_phc_hashing_and_verification() {
        use argon2::password_hash::{PasswordHasher, PasswordVerifier};
        let passwords = Passwords::new(1, 1, DEFAULT).unwrap();
        let secret = Secret::new("correct horse battery staple");
        let ours = passwords
            .admit(Party::Anonymous)
            .unwrap()
            .hash(&secret)
            .await
            .unwrap();
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(argon2(DEFAULT)
            .unwrap()
            .verify_password(secret.expose().as_bytes(), &parsed)
            .is_ok());
        // A hash made by the crate itself (as stored before) verifies here.
        let theirs = argon2(DEFAULT)
            .unwrap()
            .hash_password(
                secret.expose().as_bytes(),
                &SaltString::generate(&mut OsRng),
            )
            .unwrap()
            .to_string();
        verifies_only(&passwords, &secret, &theirs).await;
    }

    /// Hashes stored before the parameters changed (m=19456 KiB, t=2,
    /// p=1: more memory than a hashing thread's block) still verify.
    #[tokio::test]
    async fn hashes_stored_with_the_former_parameters_still_verify() {
        use argon2::password_hash::PasswordHasher;
        let passwords = Passwords::new(1, 1, DEFAULT).unwrap();
        let secret = Secret::new("correct horse battery staple");
        let former = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(19_456, 2, 1, None).unwrap(),
        )
        .hash_password(
            secret.expose().as_bytes(),
            &SaltString::generate(&mut OsRng),
        )
        .unwrap()
        .to_string();
        assert!(
            former.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{former}"
        );
        for _ in 0..2 {
            verifies_only(&passwords, &secret, &former).await;
        }
    }

    /// `stored` verifies `secret`, and not a wrong password.
    async fn verifies_only(passwords: &Passwords, secret: &Secret, stored: &str) {
        let slot = passwords.admit(Party::Anonymous).unwrap();
        assert!(slot.verify(secret, Some(stored)).await.unwrap(), "{stored}");
        assert!(
            !slot
                .verify(&Secret::new("wrong"), Some(stored))
                .await
                .unwrap(),
            "{stored}"
        );
    }

    #[tokio::test]
    async fn only_hashes_made_otherwise_are_outdated() {
        let passwords = Passwords::new(1, 1, DEFAULT).unwrap();
        let current = passwords
            .admit(Party::Anonymous)
            .unwrap()
            .hash(&Secret::new("correct horse battery staple"))
            .await
            .unwrap();
        assert!(!passwords.is_outdated(&current));
        let former = current.replacen("m=7168,t=5,p=1", "m=12288,t=3,p=1", 1);
        assert!(passwords.is_outdated(&former), "{former}");
        assert!(passwords.is_outdated(&current.replacen("$argon2id$", "$argon2i$", 1)));
        assert!(!passwords.is_outdated("not a hash"));
    }

    /// Each of OWASP's configurations hashes with its own parameters; a
    /// hasher verifies the others' hashes and finds them outdated.
    #[tokio::test]
    async fn each_configuration_hashes_with_its_parameters_and_verifies_the_others() {
        let secret = Secret::new("correct horse battery staple");
        let mut made = Vec::new();
        for params in Argon2Params::ALL {
            let passwords = Passwords::new(1, 1, params).unwrap();
            let hash = passwords
                .admit(Party::Anonymous)
                .unwrap()
                .hash(&secret)
                .await
                .unwrap();
            let (m, t) = (params.memory_kib(), params.passes());
            assert!(
                hash.starts_with(&format!("$argon2id$v=19$m={m},t={t},p=1$")),
                "{params:?}: {hash}"
            );
            assert!(!passwords.is_outdated(&hash));
            made.push((passwords, hash));
        }
        for (passwords, _) in &made {
            for (theirs, hash) in &made {
                verifies_only(passwords, &secret, hash).await;
                assert_eq!(
                    passwords.is_outdated(hash),
                    passwords.params() != theirs.params(),
                    "{hash}"
                );
            }
        }
    }

    #[test]
    fn a_full_queue_sheds_with_unavailable_and_frees_its_places() {
        let passwords = Passwords::new(1, 2, DEFAULT).unwrap();
        let held: Vec<Slot> = (0..3)
            .map(|_| passwords.admit(Party::Anonymous).unwrap())
            .collect();
        let refused = passwords.admit(Party::Anonymous).unwrap_err();
        assert_eq!(refused.code(), olympus_contracts::ErrorCode::Unavailable);
        assert_eq!(refused.details().unwrap()["retry_after_secs"], 1);
        // Another party, below its share, still gets a place.
        let other = passwords.admit(Party::Client("192.0.2.1".into()));
        assert!(other.is_ok());
        drop((held, other));
        assert!(passwords.admit(Party::Anonymous).is_ok());
    }

    /// The threads take the parties' hashes in turns: another party's
    /// hash waits for at most one of the flood's, not for its whole line.
    #[tokio::test]
    async fn a_partys_hash_does_not_wait_behind_another_partys_line() {
        let passwords = Passwords::new(1, 16, DEFAULT).unwrap();
        let flood = Party::Client("192.0.2.1".into());
        let quiet = Party::Client("198.51.100.7".into());
        let done = Mutex::new(Vec::new());
        let secret = Secret::new("correct horse battery staple");
        let parties = std::iter::repeat_n(&flood, 6).chain([&quiet]);
        // Polled in order: each puts its hash in its party's line first.
        futures::future::join_all(parties.enumerate().map(|(i, party)| {
            let slot = passwords.admit(party.clone()).unwrap();
            let (done, secret) = (&done, &secret);
            async move {
                slot.hash(secret).await.unwrap();
                done.lock().unwrap().push(i);
            }
        }))
        .await;
        let done = done.into_inner().unwrap();
        let quiet_at = done.iter().position(|&i| i == 6).unwrap();
        assert!(
            quiet_at <= 2,
            "after the flood's running hash and one turn: {done:?}"
        );
    }
}
