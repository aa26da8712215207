//! Recovery codes: ten per user, each 60 bits from the OS generator
//! (twelve base32 characters, shown as `xxxx-xxxx-xxxx`), shown once and
//! stored only as keyed hashes, each usable once; a new set replaces the
//! old.
//!
//! The hash is HMAC-SHA-256 under a key derived from the key-encryption
//! key, over the user's id and the code. A fast hash is enough here, unlike
//! for passwords: a code is 60 random bits, not something a person chose,
//! so even someone holding the table *and* the key would need about 2^59
//! guesses per user to find one, and without the key (it is not in the
//! database) the hashes cannot be tested at all. A slow hash would only make
//! every login with a code cost what Argon2 costs.

use hmac::{Mac, SimpleHmac};
use olympus_contracts::Secret;
use rand::Rng;
use sha2::Sha256;
use uuid::Uuid;
use zeroize::Zeroizing;

use crate::keys::Kek;

/// Codes in a set.
pub const COUNT: usize = 10;
/// Characters of a code, 5 bits each.
const CHARS: usize = 12;
/// The alphabet: RFC 4648's base32, lower-cased.
const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
/// What the hashing key is derived for.
const PURPOSE: &str = "olympus recovery codes v1";

/// A fresh set: the codes to show once, and their hashes to store.
pub struct NewCodes {
    pub codes: Vec<Secret>,
    pub hashes: Vec<Vec<u8>>,
}

impl std::fmt::Debug for NewCodes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NewCodes([redacted])")
    }
}

/// Ten new codes for `user_id`.
pub fn generate(kek: &Kek, user_id: Uuid) -> NewCodes {
    let mut rng = rand::rngs::OsRng;
    let mut codes = Vec::with_capacity(COUNT);
    let mut hashes = Vec::with_capacity(COUNT);
    for _ in 0..COUNT {
        let plain: Zeroizing<String> = Zeroizing::new(
            (0..CHARS)
                .map(|_| char::from(ALPHABET[rng.gen_range(0..ALPHABET.len())]))
                .collect(),
        );
        hashes.push(digest(kek, user_id, &plain));
        codes.push(Secret::new(format!(
            "{}-{}-{}",
            &plain[..4],
            &plain[4..8],
            &plain[8..]
        )));
    }
    NewCodes { codes, hashes }
}

/// The stored hash of a code as a user typed it (any case, with or without
/// dashes and spaces); `None` when it cannot be a code.
pub fn hash(kek: &Kek, user_id: Uuid, typed: &str) -> Option<Vec<u8>> {
    let plain: Zeroizing<String> = Zeroizing::new(
        typed
            .chars()
            .filter(|c| !matches!(c, '-' | ' '))
            .map(|c| c.to_ascii_lowercase())
            .collect(),
    );
    let valid = plain.len() == CHARS && plain.bytes().all(|b| ALPHABET.contains(&b));
    valid.then(|| digest(kek, user_id, &plain))
}

fn digest(kek: &Kek, user_id: Uuid, plain: &str) -> Vec<u8> {
    let key = kek.derive(PURPOSE);
    let mut mac = <SimpleHmac<Sha256> as Mac>::new_from_slice(key.as_slice())
        .unwrap_or_else(|_| unreachable!("HMAC takes a key of any length"));
    mac.update(user_id.as_bytes());
    mac.update(plain.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    fn kek(byte: u8) -> Kek {
        Kek::parse(&base64::engine::general_purpose::STANDARD.encode([byte; 32])).unwrap()
    }

    #[test]
    fn ten_distinct_codes_of_sixty_bits_whose_hashes_match_as_typed() {
        let (kek, user) = (kek(1), Uuid::now_v7());
        let new = generate(&kek, user);
        assert_eq!(new.codes.len(), 10);
        let distinct: std::collections::HashSet<&str> =
            new.codes.iter().map(Secret::expose).collect();
        assert_eq!(distinct.len(), 10);
        for (code, stored) in new.codes.iter().zip(&new.hashes) {
            let code = code.expose();
            assert_eq!(code.len(), 14, "{code}");
            assert_eq!(hash(&kek, user, code).as_ref(), Some(stored));
            let typed = code.replace('-', " ").to_uppercase();
            assert_eq!(hash(&kek, user, &typed).as_ref(), Some(stored));
            assert_ne!(
                hash(&kek, Uuid::now_v7(), code).as_ref(),
                Some(stored),
                "another user"
            );
            assert_ne!(
                hash(&self::kek(2), user, code).as_ref(),
                Some(stored),
                "another key"
            );
            assert!(!stored
                .windows(4)
                .any(|w| code.as_bytes().windows(4).any(|c| c == w)));
        }
        for bad in ["", "abc", "0000-0000-0000", "aaaa-aaaa-aaaa-a"] {
            assert_eq!(hash(&kek, user, bad), None, "{bad:?}");
        }
    }
}
