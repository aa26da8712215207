//! Password hashing: Argon2id at the OWASP minimum (m=19456 KiB, t=2, p=1).
//!
//! Hashing is CPU- and memory-heavy, so it runs on the blocking thread pool
//! behind a semaphore: at most `concurrency` hashes at once, and the async
//! threads stay free for cheap requests while logins pour in.
//! [`Passwords::verify`] with no stored hash verifies against a dummy hash,
//! so a login for an unknown user costs the same as a wrong password.

use anyhow::Context;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use olympus_contracts::Secret;
use std::sync::Arc;
use tokio::sync::Semaphore;

/// Memory cost in KiB (OWASP minimum for Argon2id).
pub const M_COST_KIB: u32 = 19_456;
/// Iterations.
pub const T_COST: u32 = 2;
/// Parallelism.
pub const P_COST: u32 = 1;

/// The password hasher shared by all workers of a process.
#[derive(Clone)]
pub struct Passwords {
    argon2: Argon2<'static>,
    permits: Arc<Semaphore>,
    dummy_hash: Arc<str>,
}

impl std::fmt::Debug for Passwords {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Passwords")
            .field("available_permits", &self.permits.available_permits())
            .finish_non_exhaustive()
    }
}

impl Passwords {
    /// A hasher running at most `concurrency` hashes at once.
    pub fn new(concurrency: usize) -> anyhow::Result<Self> {
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
            dummy_hash: dummy_hash.into(),
        })
    }

    /// A PHC string `$argon2id$v=19$m=19456,t=2,p=1$...`.
    pub async fn hash(&self, password: &Secret) -> anyhow::Result<String> {
        let argon2 = self.argon2.clone();
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
        let argon2 = self.argon2.clone();
        let password = password.clone();
        let (stored, real) = match stored {
            Some(stored) => (stored.to_owned(), true),
            None => (self.dummy_hash.to_string(), false),
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
        let passwords = Passwords::new(2).unwrap();
        let secret = Secret::new("correct horse battery staple");
        let hash = passwords.hash(&secret).await.unwrap();
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        assert!(passwords.verify(&secret, Some(&hash)).await.unwrap());
        assert!(!passwords
            .verify(&Secret::new("wrong"), Some(&hash))
            .await
            .unwrap());
        assert!(!passwords.verify(&secret, None).await.unwrap());
    }
}
