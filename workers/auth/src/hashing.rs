//! Password hashing: Argon2id at the OWASP minimum (m=19456 KiB, t=2, p=1).
//!
//! Hashing is CPU- and memory-heavy, so it runs on the blocking thread pool
//! behind a semaphore: at most `concurrency` hashes at once, and the async
//! threads stay free for cheap requests while logins pour in. The queue in
//! front of it is bounded too: a request first takes a [`Slot`] (one of
//! `concurrency + queue`), before any other work; when none is left it is
//! answered at once with `unavailable`, so a flood of logins gets quick
//! answers instead of time-outs and never holds the requests behind it.
//! [`Slot::verify`] with no stored hash verifies against a dummy hash, so a
//! login for an unknown user costs the same as a wrong password.
//!
//! One hasher serves every worker of a process that hashes (auth, and the
//! tenant worker's signup), kept beside the app ([`passwords`]); a process
//! that runs neither never builds it.

use anyhow::Context;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use olympus_contracts::Secret;
use std::sync::Arc;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use olympus_runtime::{App, Error};

/// Memory cost in KiB (OWASP minimum for Argon2id).
pub const M_COST_KIB: u32 = 19_456;
/// Iterations.
pub const T_COST: u32 = 2;
/// Parallelism.
pub const P_COST: u32 = 1;

/// The process's hasher, sized by `OLYMPUS_ARGON2_CONCURRENCY` (default:
/// the machine's cores) and `OLYMPUS_ARGON2_QUEUE`, made on first use.
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
        let passwords = Passwords::new(concurrency, config.argon2_queue)?;
        tracing::info!(
            concurrency,
            queue = config.argon2_queue,
            "password hasher ready"
        );
        Ok(passwords)
    })
}

/// The password hasher shared by all workers of a process.
#[derive(Clone)]
pub struct Passwords {
    argon2: Argon2<'static>,
    /// Hashes running.
    permits: Arc<Semaphore>,
    /// Hashes running or waiting.
    places: Arc<Semaphore>,
    dummy_hash: Arc<str>,
}

/// A place among the hashes running or waiting, held by one request (for
/// as many hashes as it needs, one after another).
#[derive(Debug)]
pub struct Slot {
    passwords: Passwords,
    _place: OwnedSemaphorePermit,
}

impl std::fmt::Debug for Passwords {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Passwords")
            .field("available_permits", &self.permits.available_permits())
            .field("available_places", &self.places.available_permits())
            .finish_non_exhaustive()
    }
}

impl Passwords {
    /// A hasher running at most `concurrency` hashes at once, with at most
    /// `queue` more waiting.
    pub fn new(concurrency: usize, queue: usize) -> anyhow::Result<Self> {
        let params = Params::new(M_COST_KIB, T_COST, P_COST, None)
            .map_err(|e| anyhow::anyhow!("argon2 parameters: {e}"))?;
        let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        let salt = SaltString::generate(&mut OsRng);
        let dummy_hash = argon2
            .hash_password(b"olympus dummy password", &salt)
            .map_err(|e| anyhow::anyhow!("computing the dummy hash: {e}"))?
            .to_string();
        Ok(Self {
            argon2,
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
            places: Arc::new(Semaphore::new(concurrency.max(1) + queue)),
            dummy_hash: dummy_hash.into(),
        })
    }

    /// Takes a place in the hashing queue, or `unavailable` (with
    /// `retry_after_secs`) when it is full. Take it before the request's
    /// other work, so that a shed request costs next to nothing.
    pub fn admit(&self) -> Result<Slot, Error> {
        let place = Arc::clone(&self.places).try_acquire_owned().map_err(|_| {
            tracing::debug!("password hashing queue full: shedding the request");
            Error::overloaded()
        })?;
        Ok(Slot {
            passwords: self.clone(),
            _place: place,
        })
    }
}

impl Slot {
    /// A PHC string `$argon2id$v=19$m=19456,t=2,p=1$...`.
    pub async fn hash(&self, password: &Secret) -> anyhow::Result<String> {
        let argon2 = self.passwords.argon2.clone();
        let password = password.clone();
        self.run(move || {
            let salt = SaltString::generate(&mut OsRng);
            argon2
                .hash_password(password.expose().as_bytes(), &salt)
                .map(|hash| hash.to_string())
                .map_err(|e| anyhow::anyhow!("hashing a password: {e}"))
        })
        .await
    }

    /// Whether `password` matches `stored`; with no stored hash, does the
    /// same work against a dummy and returns false.
    pub async fn verify(&self, password: &Secret, stored: Option<&str>) -> anyhow::Result<bool> {
        let argon2 = self.passwords.argon2.clone();
        let password = password.clone();
        let (stored, real) = match stored {
            Some(stored) => (stored.to_owned(), true),
            None => (self.passwords.dummy_hash.to_string(), false),
        };
        let matches = self
            .run(move || {
                let parsed = PasswordHash::new(&stored)
                    .map_err(|e| anyhow::anyhow!("stored password hash is malformed: {e}"))?;
                Ok(argon2
                    .verify_password(password.expose().as_bytes(), &parsed)
                    .is_ok())
            })
            .await?;
        Ok(real && matches)
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> anyhow::Result<T> + Send + 'static,
    ) -> anyhow::Result<T> {
        let _permit = self
            .passwords
            .permits
            .acquire()
            .await
            .context("the password hasher is shut down")?;
        tokio::task::spawn_blocking(work)
            .await
            .context("the password hashing task failed")?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_are_argon2id_with_owasp_parameters_and_verify() {
        let passwords = Passwords::new(2, 4).unwrap();
        let secret = Secret::new("correct horse battery staple");
        let hash = passwords.admit().unwrap().hash(&secret).await.unwrap();
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        let verify = |password: Secret, stored: Option<String>| {
            let slot = passwords.admit().unwrap();
            async move { slot.verify(&password, stored.as_deref()).await.unwrap() }
        };
        assert!(verify(secret.clone(), Some(hash.clone())).await);
        assert!(!verify(Secret::new("wrong"), Some(hash)).await);
        assert!(!verify(secret, None).await);
    }

    #[test]
    fn a_full_queue_sheds_with_unavailable_and_frees_its_places() {
        let passwords = Passwords::new(1, 2).unwrap();
        let held: Vec<Slot> = (0..3).map(|_| passwords.admit().unwrap()).collect();
        let refused = passwords.admit().unwrap_err();
        assert_eq!(refused.code(), olympus_contracts::ErrorCode::Unavailable);
        assert_eq!(refused.details().unwrap()["retry_after_secs"], 1);
        drop(held);
        assert!(passwords.admit().is_ok());
    }
}
