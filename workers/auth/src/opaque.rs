//! Opaque tokens: refresh and verification tokens.
//!
//! A token is 16 bytes of tenant id followed by 32 random bytes, base64url
//! encoded; a refresh token issued since issue 34 also names its session
//! (tenant id, session id, 32 random bytes: [`generate_refresh`]), so that
//! a rotation finds its row by primary key and updates no index. The random part is the secret (256 bits); the tenant id lets the
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
const REFRESH_BYTES: usize = 32 + RANDOM_BYTES;

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

/// A refresh token for a session of a tenant.
pub fn generate_refresh(tenant_id: Uuid, session_id: Uuid) -> NewToken {
    let mut bytes = [0u8; REFRESH_BYTES];
    bytes[..16].copy_from_slice(tenant_id.as_bytes());
    bytes[16..32].copy_from_slice(session_id.as_bytes());
    rand::rngs::OsRng.fill_bytes(&mut bytes[32..]);
    let token = URL_SAFE_NO_PAD.encode(bytes);
    let hash = hash(&token);
    NewToken { token, hash }
}

/// A presented refresh token: its tenant, its session when it names one
/// (issued since issue 34; `None` for one issued before), and its hash.
#[derive(Debug, PartialEq, Eq)]
pub struct Refresh {
    pub tenant_id: Uuid,
    pub session_id: Option<Uuid>,
    pub hash: Vec<u8>,
}

/// A presented refresh token of either form, or `None` when it cannot be
/// one of ours.
pub fn parse_refresh(token: &str) -> Option<Refresh> {
    let bytes = URL_SAFE_NO_PAD.decode(token).ok()?;
    let session_id = match bytes.len() {
        TOKEN_BYTES => None,
        REFRESH_BYTES => Some(Uuid::from_slice(&bytes[16..32]).ok()?),
        _ => return None,
    };
    Some(Refresh {
        tenant_id: Uuid::from_slice(&bytes[..16]).ok()?,
        session_id,
        hash: hash(token),
    })
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
    fn a_refresh_token_names_its_session_and_one_issued_before_does_not() {
        let (tenant, session) = (Uuid::now_v7(), Uuid::now_v7());
        let new = generate_refresh(tenant, session);
        assert_eq!(new.token.len(), 86);
        let parsed = parse_refresh(&new.token).unwrap();
        assert_eq!(
            parsed,
            Refresh {
                tenant_id: tenant,
                session_id: Some(session),
                hash: new.hash
            }
        );
        let before = generate(tenant);
        let parsed = parse_refresh(&before.token).unwrap();
        assert_eq!(
            parsed,
            Refresh {
                tenant_id: tenant,
                session_id: None,
                hash: before.hash
            }
        );
        assert_eq!(
            parse(&generate_refresh(tenant, session).token),
            None,
            "not a verification token"
        );
        for bad in ["", "abc", &"A".repeat(85), &"A".repeat(87)] {
            assert_eq!(parse_refresh(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn anything_else_is_not_a_token() {
        for bad in ["", "abc", "!!!!", &"A".repeat(63), &"A".repeat(65)] {
            assert_eq!(parse(bad), None, "{bad:?}");
        }
    }
}
