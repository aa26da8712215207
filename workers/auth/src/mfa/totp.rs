//! TOTP (RFC 6238) as the contract has it: HMAC-SHA-1, 30-second steps, 6
//! digits, one step of drift either way; 160-bit secrets from the OS
//! generator, sealed under the key-encryption key with their user as
//! associated data ([`crate::keys::Kek::seal_for`]). The codes themselves
//! are `totp-rs`'s.

use chrono::{DateTime, Utc};
use olympus_runtime::Error;
use rand::RngCore;
use totp_rs::{Algorithm, TOTP};
use uuid::Uuid;
use zeroize::Zeroizing;

use crate::keys::Kek;

/// Seconds per step.
pub const STEP_SECS: u64 = 30;
/// Digits per code.
pub const DIGITS: usize = 6;
/// Bytes of a secret: 160 bits (RFC 4226's recommendation).
pub const SECRET_BYTES: usize = 20;
/// Steps of drift accepted either way.
const SKEW: i64 = 1;

/// A TOTP secret, in memory only while it is used.
pub struct Secret(Zeroizing<Vec<u8>>);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("totp::Secret([redacted])")
    }
}

/// What a secret is sealed for: its user.
fn owner(user_id: Uuid) -> String {
    format!("totp:{user_id}")
}

impl Secret {
    /// A new secret from the OS generator.
    pub fn generate() -> Self {
        let mut bytes = Zeroizing::new(vec![0u8; SECRET_BYTES]);
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        Self(bytes)
    }

    /// The secret sealed for `user_id`, as stored.
    pub fn seal(&self, kek: &Kek, user_id: Uuid) -> Result<Vec<u8>, Error> {
        kek.seal_for(owner(user_id).as_bytes(), &self.0)
            .map_err(Error::internal)
    }

    /// The stored secret of `user_id`; `internal` when it does not open
    /// (sealed under another key-encryption key).
    pub fn open(kek: &Kek, user_id: Uuid, sealed: &[u8]) -> Result<Self, Error> {
        kek.open_for(owner(user_id).as_bytes(), sealed)
            .map(Self)
            .ok_or_else(|| {
                Error::internal(anyhow::anyhow!(
                    "the TOTP secret of user {user_id} does not open with this \
                     key-encryption key (it was sealed under another \
                     OLYMPUS_KEY_ENCRYPTION_KEY)"
                ))
            })
    }

    fn totp(&self, issuer: Option<String>, label: String) -> TOTP {
        // Checked: 6 digits and 160 bits are what `TOTP::new` asks for, and
        // the issuer and label lose their colons (see `otpauth_uri`).
        TOTP::new_unchecked(
            Algorithm::SHA1,
            DIGITS,
            SKEW as u8,
            STEP_SECS,
            self.0.to_vec(),
            issuer,
            label,
        )
    }

    /// The secret in base32 without padding, for typing into an app.
    pub fn base32(&self) -> String {
        self.totp(None, String::new()).get_secret_base32()
    }

    /// The `otpauth://totp/{issuer}:{label}?secret=...&issuer=...` URI that
    /// authenticator apps read (from a QR code). A colon separates issuer
    /// and label there, so neither keeps one.
    pub fn otpauth_uri(&self, issuer: &str, label: &str) -> String {
        let clean = |s: &str| {
            let parts: Vec<&str> = s
                .split(':')
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .collect();
            parts.join(" ")
        };
        self.totp(Some(clean(issuer)), clean(label)).get_url()
    }

    /// The step `code` is right for at `now`, one step of drift either
    /// way, if that step is later than `after` (the last step a code was
    /// accepted for: a code works once); `None` otherwise. A code is six
    /// digits; spaces in it are ignored ("123 456").
    pub fn accepts(&self, code: &str, now: DateTime<Utc>, after: Option<i64>) -> Option<i64> {
        let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
        if code.len() != DIGITS || !code.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let totp = self.totp(None, String::new());
        let current = now.timestamp().div_euclid(STEP_SECS as i64);
        let mut found = None;
        // Every candidate step is computed and compared in constant time,
        // so the reply's time says nothing about which one matched.
        for step in current - SKEW..=current + SKEW {
            let Ok(at) = u64::try_from(step * STEP_SECS as i64) else {
                continue;
            };
            let expected = totp.generate(at);
            let matches = constant_time_eq(expected.as_bytes(), code.as_bytes());
            if matches && after.is_none_or(|last| step > last) {
                found = Some(step);
            }
        }
        found
    }
}

/// Whether `a` and `b` are equal, in a time that depends on their lengths
/// only.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238, appendix B: the SHA-1 secret and its 8-digit codes, of
    /// which the 6-digit codes are the last six.
    #[test]
    fn codes_are_rfc_6238s() {
        let secret = Secret(Zeroizing::new(b"12345678901234567890".to_vec()));
        for (time, code) in [
            (59, "94287082"),
            (1_111_111_109, "07081804"),
            (1_111_111_111, "14050471"),
            (1_234_567_890, "89005924"),
            (2_000_000_000, "69279037"),
        ] {
            let now = DateTime::from_timestamp(time, 0).unwrap();
            let six = &code[2..];
            let step = time / 30;
            assert_eq!(secret.accepts(six, now, None), Some(step), "{time}");
        }
    }

    #[test]
    fn a_code_works_once_within_a_step_of_drift() {
        let secret = Secret::generate();
        let now = Utc::now();
        let step = now.timestamp() / 30;
        let totp = secret.totp(None, String::new());
        let code_at = |s: i64| totp.generate((s * 30) as u64);
        assert_eq!(secret.accepts(&code_at(step), now, None), Some(step));
        assert_eq!(
            secret.accepts(&code_at(step - 1), now, None),
            Some(step - 1)
        );
        assert_eq!(
            secret.accepts(&code_at(step + 1), now, None),
            Some(step + 1)
        );
        assert_eq!(secret.accepts(&code_at(step - 2), now, None), None);
        assert_eq!(
            secret.accepts(&code_at(step), now, Some(step)),
            None,
            "replayed"
        );
        assert_eq!(
            secret.accepts(&code_at(step - 1), now, Some(step)),
            None,
            "older"
        );
        let spaced = format!("{} {}", &code_at(step)[..3], &code_at(step)[3..]);
        assert_eq!(secret.accepts(&spaced, now, None), Some(step));
        for bad in ["", "12345", "1234567", "abcdef", "12345x"] {
            assert_eq!(secret.accepts(bad, now, None), None, "{bad:?}");
        }
    }

    #[test]
    fn a_sealed_secret_opens_only_for_its_user() {
        use base64::Engine;
        let kek = Kek::parse(&base64::engine::general_purpose::STANDARD.encode([7u8; 32])).unwrap();
        let secret = Secret::generate();
        let (user, other) = (Uuid::now_v7(), Uuid::now_v7());
        let sealed = secret.seal(&kek, user).unwrap();
        assert!(!sealed
            .windows(SECRET_BYTES)
            .any(|w| w == secret.0.as_slice()));
        assert_eq!(
            Secret::open(&kek, user, &sealed).unwrap().base32(),
            secret.base32()
        );
        assert!(Secret::open(&kek, other, &sealed).is_err());
    }

    #[test]
    fn the_uri_names_issuer_and_label_for_authenticator_apps() {
        let secret = Secret::generate();
        let uri = secret.otpauth_uri("Acme: EU", "ada@example.com");
        assert!(
            uri.starts_with("otpauth://totp/Acme%20EU:ada%40example.com?secret="),
            "{uri}"
        );
        assert!(
            uri.contains(&format!("secret={}", secret.base32())),
            "{uri}"
        );
        assert!(uri.contains("issuer=Acme%20EU"), "{uri}");
        assert_eq!(secret.base32().len(), 32);
    }
}
