//! TOTP codes as an authenticator app makes them (RFC 6238: HMAC-SHA-1,
//! 30-second steps, 6 digits), written here from the RFC rather than taken
//! from the worker, so that the tests check the worker against the
//! standard and not against itself.

use hmac::{Mac, SimpleHmac};
use sha1::Sha1;

/// An authenticator holding a base32 secret (`auth.mfa.totp.enroll`'s
/// `secret`).
#[derive(Debug, Clone)]
pub struct Authenticator {
    key: Vec<u8>,
}

impl Authenticator {
    /// The authenticator of `secret` (base32, RFC 4648, padding optional).
    pub fn new(secret: &str) -> Self {
        let key = base32::decode(base32::Alphabet::Rfc4648 { padding: false }, secret)
            .expect("a base32 secret");
        Self { key }
    }

    /// The 30-second step of the moment `unix` seconds.
    pub fn step_at(unix: i64) -> i64 {
        unix.div_euclid(30)
    }

    /// The code of `step`.
    pub fn code(&self, step: i64) -> String {
        let mut mac = <SimpleHmac<Sha1> as Mac>::new_from_slice(&self.key).expect("a key");
        mac.update(&step.to_be_bytes());
        let digest = mac.finalize().into_bytes();
        let offset = usize::from(digest[19] & 0x0f);
        let binary = u32::from_be_bytes(digest[offset..offset + 4].try_into().expect("4 bytes"))
            & 0x7fff_ffff;
        format!("{:06}", binary % 1_000_000)
    }

    /// The code of the step of `now` (the app's clock: a test moves it with
    /// `app.clock.advance` to reach later steps without waiting).
    pub fn code_at(&self, now: chrono::DateTime<chrono::Utc>) -> String {
        self.code(Self::step_at(now.timestamp()))
    }

    /// Two codes a test may give one after the other at `now`, each
    /// accepted once: that step's and the next's (one step of drift is
    /// accepted, and the first stays acceptable while the step turns).
    pub fn two_codes(&self, now: chrono::DateTime<chrono::Utc>) -> (String, String) {
        let step = Self::step_at(now.timestamp());
        (self.code(step), self.code(step + 1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238, appendix B (SHA-1): the last six digits of its codes.
    #[test]
    fn the_rfcs_test_vectors() {
        let app = Authenticator {
            key: b"12345678901234567890".to_vec(),
        };
        for (time, code) in [
            (59, "287082"),
            (1_111_111_109, "081804"),
            (2_000_000_000, "279037"),
        ] {
            assert_eq!(app.code(Authenticator::step_at(time)), code);
        }
    }
}
