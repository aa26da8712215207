//! Refresh tokens that name their session (migration 0036): a refresh
//! finds the session by its id and updates it in place, touching no index.
//!
//! A token is, base64url-encoded without padding (118 characters):
//!
//! | bytes | what |
//! |---|---|
//! | 16 | the tenant's id (the transaction's scope, as [`crate::opaque`]'s) |
//! | 16 | the session's id |
//! | 8 | the generation, big-endian: 0 at login, one more at each refresh |
//! | 32 | random: the secret (256 bits) |
//! | 16 | a MAC of the 72 bytes before it |
//!
//! The session stores the SHA-256 of its current token and its generation.
//! A token is current when its session's digest is its own: that alone
//! lets it refresh. The MAC (HMAC-SHA-256, truncated, under a key derived
//! from the key-encryption key) says whether the server issued a token, so
//! that a genuine token of an older generation — a token rotated away and
//! presented again, so stolen or leaked — revokes its session, and one
//! merely naming a session (whose id events and the audit log show)
//! revokes nothing. With the key alone, one can revoke sessions but not
//! refresh them (the secret is random); with the table alone, nothing (it
//! holds digests).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Mac, SimpleHmac};
use rand::RngCore;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::keys::Kek;

/// What the MAC key is derived from the key-encryption key for.
const PURPOSE: &str = "olympus refresh token mac v1";
const SIGNED: usize = 16 + 16 + 8 + 32;
const MAC_BYTES: usize = 16;
const TOKEN_BYTES: usize = SIGNED + MAC_BYTES;

/// A token issued: `token` to the client, `digest` to the session's row.
pub struct Issued {
    pub token: String,
    pub digest: Vec<u8>,
}

impl std::fmt::Debug for Issued {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Issued([redacted])")
    }
}

/// A token presented in this form.
#[derive(Clone)]
pub struct Presented {
    pub tenant_id: Uuid,
    pub session_id: Uuid,
    pub generation: i64,
    /// What its session stores while it is current.
    pub digest: Vec<u8>,
    /// Whether its MAC is this server's: it was issued here.
    pub authentic: bool,
}

impl std::fmt::Debug for Presented {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Presented")
            .field("tenant_id", &self.tenant_id)
            .field("session_id", &self.session_id)
            .field("generation", &self.generation)
            .field("authentic", &self.authentic)
            .finish_non_exhaustive()
    }
}

/// Issues generation `generation` (0 or more) of `session_id`'s token.
pub fn issue(kek: &Kek, tenant_id: Uuid, session_id: Uuid, generation: i64) -> Issued {
    let mut bytes = [0u8; TOKEN_BYTES];
    bytes[..16].copy_from_slice(tenant_id.as_bytes());
    bytes[16..32].copy_from_slice(session_id.as_bytes());
    let generation = u64::try_from(generation).unwrap_or(0);
    bytes[32..40].copy_from_slice(&generation.to_be_bytes());
    rand::rngs::OsRng.fill_bytes(&mut bytes[40..SIGNED]);
    let tag = mac(kek, &bytes[..SIGNED]).finalize().into_bytes();
    bytes[SIGNED..].copy_from_slice(&tag[..MAC_BYTES]);
    let token = URL_SAFE_NO_PAD.encode(bytes);
    let digest = digest(&token);
    Issued { token, digest }
}

/// The parts of `token`, or `None` when it is not of this form (a token of
/// the earlier form, [`crate::opaque`], or nothing of ours).
pub fn parse(kek: &Kek, token: &str) -> Option<Presented> {
    if token.len() > 2 * TOKEN_BYTES {
        return None;
    }
    let bytes = URL_SAFE_NO_PAD.decode(token).ok()?;
    if bytes.len() != TOKEN_BYTES {
        return None;
    }
    let generation = u64::from_be_bytes(bytes[32..40].try_into().ok()?);
    let authentic = mac(kek, &bytes[..SIGNED])
        .verify_truncated_left(&bytes[SIGNED..])
        .is_ok();
    Some(Presented {
        tenant_id: Uuid::from_slice(&bytes[..16]).ok()?,
        session_id: Uuid::from_slice(&bytes[16..32]).ok()?,
        generation: i64::try_from(generation).ok()?,
        digest: digest(token),
        authentic,
    })
}

fn mac(kek: &Kek, signed: &[u8]) -> SimpleHmac<Sha256> {
    let key = kek.derive(PURPOSE);
    let mut mac = <SimpleHmac<Sha256> as Mac>::new_from_slice(key.as_slice())
        .unwrap_or_else(|_| unreachable!("HMAC takes a key of any length"));
    mac.update(signed);
    mac
}

fn digest(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kek(byte: u8) -> Kek {
        Kek::parse(&base64::engine::general_purpose::STANDARD.encode([byte; 32])).unwrap()
    }

    #[test]
    fn a_token_names_its_tenant_session_and_generation_and_is_authentic_here_only() {
        let (tenant, session) = (Uuid::now_v7(), Uuid::now_v7());
        let issued = issue(&kek(1), tenant, session, 41);
        assert_eq!(issued.token.len(), 118);
        let parsed = parse(&kek(1), &issued.token).unwrap();
        assert_eq!(
            (parsed.tenant_id, parsed.session_id, parsed.generation),
            (tenant, session, 41)
        );
        assert_eq!(parsed.digest, issued.digest);
        assert!(parsed.authentic);
        // Under another key, the same token is not this server's.
        assert!(!parse(&kek(2), &issued.token).unwrap().authentic);
        // Two tokens of one generation differ (the secret is random).
        assert_ne!(issue(&kek(1), tenant, session, 41).token, issued.token);
    }

    #[test]
    fn a_changed_byte_is_not_authentic() {
        let issued = issue(&kek(1), Uuid::now_v7(), Uuid::now_v7(), 0);
        let bytes = URL_SAFE_NO_PAD.decode(&issued.token).unwrap();
        for at in [0, 20, 39, 40, 71, 72, 87] {
            let mut changed = bytes.clone();
            changed[at] ^= 1;
            let token = URL_SAFE_NO_PAD.encode(&changed);
            let parsed = parse(&kek(1), &token).unwrap();
            assert!(!parsed.authentic, "byte {at}");
            assert_ne!(parsed.digest, issued.digest);
        }
    }

    #[test]
    fn other_shapes_are_not_of_this_form() {
        let earlier = crate::opaque::generate(Uuid::now_v7()).token;
        for other in ["", "garbage", &earlier, &"A".repeat(117), &"A".repeat(119)] {
            assert!(parse(&kek(1), other).is_none(), "{other:?}");
        }
        // A generation beyond i64 is nothing of ours.
        let mut bytes = vec![0u8; TOKEN_BYTES];
        bytes[32] = 0x80;
        assert!(parse(&kek(1), &URL_SAFE_NO_PAD.encode(bytes)).is_none());
    }
}
