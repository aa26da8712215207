//! Opaque tokens: refresh and verification tokens.
//!
//! A token is 16 bytes of tenant id followed by 32 random bytes, base64url
//! encoded. The random part is the secret (256 bits); the tenant id lets the
//! server open the right tenant-scoped transaction before looking the token
//! up, so token lookups stay under row-level security. Only the SHA-256 of
//! the whole token is stored: the token is high-entropy, so a fast hash is
//! enough and a stolen table yields nothing usable.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};
use uuid::Uuid;

const RANDOM_BYTES: usize = 32;
const TOKEN_BYTES: usize = 16 + RANDOM_BYTES;

/// A freshly generated token: give `token` to the client, store `hash`.
#[derive(Clone)]
pub struct NewToken {
    pub token: String,
    pub hash: Vec<u8>,
}

impl std::fmt::Debug for NewToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NewToken([redacted])")
    }
}

/// Generates a token for a tenant.
pub fn generate(tenant_id: Uuid) -> NewToken {
    let mut bytes = [0u8; TOKEN_BYTES];
    bytes[..16].copy_from_slice(tenant_id.as_bytes());
    rand::rngs::OsRng.fill_bytes(&mut bytes[16..]);
    let token = URL_SAFE_NO_PAD.encode(bytes);
    let hash = hash(&token);
    NewToken { token, hash }
}

/// The tenant and stored hash of a presented token, or `None` when it
/// cannot be one of ours (then it is `invalid_token`, like an unknown one).
pub fn parse(token: &str) -> Option<(Uuid, Vec<u8>)> {
    let bytes = URL_SAFE_NO_PAD.decode(token).ok()?;
    if bytes.len() != TOKEN_BYTES {
        return None;
    }
    let tenant_id = Uuid::from_slice(&bytes[..16]).ok()?;
    Some((tenant_id, hash(token)))
}

fn hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_names_its_tenant_and_hashes_stably() {
        let tenant = Uuid::now_v7();
        let new = generate(tenant);
        assert_eq!(new.token.len(), 64);
        assert_eq!(parse(&new.token), Some((tenant, new.hash.clone())));
        assert_ne!(generate(tenant).token, new.token);
    }

    #[test]
    fn anything_else_is_not_a_token() {
        for bad in ["", "abc", "!!!!", &"A".repeat(63), &"A".repeat(65)] {
            assert_eq!(parse(bad), None, "{bad:?}");
        }
    }
}
