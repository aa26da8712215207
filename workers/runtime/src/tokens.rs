//! Access tokens (contract §4): EdDSA (Ed25519) JWTs with `typ: at+jwt`
//! and a `kid`, verified here against the published key set.
//!
//! Every worker verifies them; only the auth worker signs
//! (`olympus_auth::keys`), and only it ever opens a private key. What this
//! module knows of the keys is public: their ids, states and public halves,
//! read from Postgres with the revocations (see [`crate::revocation`]), so
//! a key added, activated, retired or revoked by any process is known to
//! every process within a poll.
//!
//! Verification accepts exactly one algorithm, one type, one issuer and one
//! audience, and only the keys of the published set: standby, active, and
//! retired for one token lifetime after they stopped signing. A key
//! revoked or unpublished stops verifying at the next poll, remembered
//! tokens included.
//!
//! During a move from revision 2, HS256 tokens under the old secrets
//! (`OLYMPUS_LEGACY_HS256_KEYS`, verification only) are accepted when they
//! were issued before the first Ed25519 key existed: nothing signs HS256
//! any more, so a later one is forged, and the window closes by itself one
//! token lifetime after the upgrade.
//!
//! A token is used for many requests, so the claims of the tokens verified
//! lately are remembered (up to [`VERIFIED_MAX`] of them, as exact bytes;
//! only a token whose signature verified is remembered): a token seen
//! again skips its decoding and signature check (an Ed25519 verification
//! costs tens of microseconds), and only its key and times are checked
//! again. A token's revocation is checked by the caller on every use.

use anyhow::{bail, Context};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use olympus_contracts::auth::Jwk;
use olympus_contracts::shapes::Role;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use uuid::Uuid;

/// The JWT `typ` header of access tokens (RFC 9068).
pub const ACCESS_TOKEN_TYPE: &str = "at+jwt";

/// Accepted clock difference between processes, in seconds.
pub const LEEWAY_SECS: u64 = 5;

/// `amr` of a password login (RFC 8176).
pub const AMR_PASSWORD: &str = "pwd";
/// `amr` of a login that also gave a one-time code (TOTP or recovery
/// code, RFC 8176).
pub const AMR_OTP: &str = "otp";

/// The claims of an access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub aud: String,
    /// The user.
    pub sub: Uuid,
    /// The tenant.
    pub tid: Uuid,
    /// The session.
    pub sid: Uuid,
    pub role: Role,
    /// How the login proved who it was (RFC 8176): `["pwd"]`, `["pwd",
    /// "otp"]`; the login's, kept by refreshes. Absent from revision 2's
    /// tokens, which were all password logins.
    #[serde(default = "password_only")]
    pub amr: Vec<String>,
    /// When the login happened (seconds since the epoch); the login's,
    /// kept by refreshes. Absent (0) from revision 2's tokens.
    #[serde(default)]
    pub auth_time: i64,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    pub jti: Uuid,
}

fn password_only() -> Vec<String> {
    vec![AMR_PASSWORD.to_owned()]
}

/// Where a signing key is in its life (contract §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum KeyState {
    /// Published, verifies, does not sign yet.
    Standby,
    /// The one key that signs.
    Active,
    /// Signed once; verifies for one token lifetime after `retired_at`.
    Retired,
    /// Refused everywhere.
    Revoked,
}

impl KeyState {
    /// Every state, in the order a key goes through them.
    pub const ALL: [KeyState; 4] = [Self::Standby, Self::Active, Self::Retired, Self::Revoked];

    /// The state's name, as stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Standby => "standby",
            Self::Active => "active",
            Self::Retired => "retired",
            Self::Revoked => "revoked",
        }
    }

    /// The state called `name`.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == name)
    }
}

/// What every process reads of a signing key: nothing secret.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct KeyRow {
    pub kid: String,
    pub state: String,
    /// The Ed25519 public key, 32 bytes.
    pub public_key: Vec<u8>,
    pub created_at: DateTime<Utc>,
    pub retired_at: Option<DateTime<Utc>>,
}

/// One HS256 secret of revision 2, kept to verify its last tokens.
#[derive(Clone)]
pub struct LegacyKey {
    pub kid: String,
    secret: Vec<u8>,
}

impl std::fmt::Debug for LegacyKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "LegacyKey({:?})", self.kid)
    }
}

impl LegacyKey {
    /// A key from its id and secret (at least 32 bytes).
    pub fn new(kid: impl Into<String>, secret: Vec<u8>) -> anyhow::Result<Self> {
        let kid = kid.into();
        if kid.is_empty() || kid.len() > 64 {
            bail!("key ids must be 1-64 characters");
        }
        if secret.len() < 32 {
            bail!("HS256 key {kid:?} is shorter than 32 bytes");
        }
        Ok(Self { kid, secret })
    }
}

/// Parses revision 2's key list, `kid:base64-secret[,kid:base64-secret...]`
/// (`OLYMPUS_LEGACY_HS256_KEYS`, formerly `OLYMPUS_JWT_KEYS`).
pub fn parse_legacy_keys(value: &str) -> anyhow::Result<Vec<LegacyKey>> {
    let keys = value
        .split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .map(|entry| {
            let (kid, secret) = entry
                .split_once(':')
                .context("entries are kid:base64-secret")?;
            let secret = STANDARD
                .decode(secret.trim())
                .with_context(|| format!("the secret of key {kid:?} is not base64"))?;
            LegacyKey::new(kid.trim(), secret)
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    if keys.is_empty() {
        bail!("no key listed");
    }
    Ok(keys)
}

/// How many verified tokens are remembered, at most.
pub const VERIFIED_MAX: usize = 4_096;

/// Verifies access tokens against the published key set.
#[derive(Clone)]
pub struct AccessTokens(Arc<Inner>);

struct Inner {
    validation: Validation,
    issuer: String,
    audience: String,
    ttl: Duration,
    keys: RwLock<Arc<KeySet>>,
    legacy: Option<Legacy>,
    verified: Mutex<Verified>,
}

/// The keys that verify now.
#[derive(Default)]
struct KeySet {
    /// Published keys, newest first.
    published: Vec<Published>,
    /// The key that signs.
    active: Option<String>,
    /// When the first Ed25519 key was made: HS256 tokens issued later are
    /// forged.
    first_created: Option<i64>,
}

struct Published {
    kid: String,
    state: KeyState,
    public_key: Vec<u8>,
    decoding: DecodingKey,
}

impl KeySet {
    fn decoding(&self, kid: &str) -> Option<&DecodingKey> {
        self.published
            .iter()
            .find(|k| k.kid == kid)
            .map(|k| &k.decoding)
    }
}

struct Legacy {
    keys: HashMap<String, DecodingKey>,
    validation: Validation,
}

/// Which key verified a remembered token.
#[derive(Clone)]
enum VerifiedBy {
    Ed25519(String),
    Legacy,
}

/// Tokens whose signature verified, with their claims, in two generations:
/// a token is looked up in both, and when the newer is full the older is
/// dropped (so the tokens in use stay, and memory is bounded).
#[derive(Default)]
struct Verified {
    newer: HashMap<String, (Claims, VerifiedBy)>,
    older: HashMap<String, (Claims, VerifiedBy)>,
}

impl Verified {
    fn get(&mut self, token: &str) -> Option<(Claims, VerifiedBy)> {
        if let Some(found) = self.newer.get(token) {
            return Some(found.clone());
        }
        let (token, found) = self.older.remove_entry(token)?;
        self.insert(token, found.clone());
        Some(found)
    }

    /// The tenant of a remembered token, without moving it.
    fn tenant_of(&self, token: &str) -> Option<Uuid> {
        self.newer
            .get(token)
            .or_else(|| self.older.get(token))
            .map(|(claims, _)| claims.tid)
    }

    fn insert(&mut self, token: String, found: (Claims, VerifiedBy)) {
        if self.newer.len() >= VERIFIED_MAX / 2 {
            self.older = std::mem::take(&mut self.newer);
        }
        self.newer.insert(token, found);
    }
}

impl std::fmt::Debug for AccessTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessTokens")
            .field("issuer", &self.0.issuer)
            .field("audience", &self.0.audience)
            .field("active", &self.active_kid())
            .finish_non_exhaustive()
    }
}

/// Why an access token was refused (for logs; clients see `unauthenticated`).
#[derive(Debug, thiserror::Error)]
pub enum Rejected {
    #[error("malformed token or header: {0}")]
    Malformed(String),
    #[error("algorithm {0:?} is not EdDSA")]
    Algorithm(String),
    #[error("token type {0:?} is not at+jwt")]
    Type(Option<String>),
    #[error("key id {0:?} is not in the published key set")]
    UnknownKey(Option<String>),
    #[error("HS256 token issued after the move to Ed25519 keys, or expiring after its window")]
    LegacyAfterUpgrade,
    #[error("{0}")]
    Invalid(String),
}

fn validation(algorithm: Algorithm, issuer: &str, audience: &str) -> Validation {
    let mut validation = Validation::new(algorithm);
    validation.set_issuer(&[issuer]);
    validation.set_audience(&[audience]);
    validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
    // The times are checked in `verify`, against the app's clock.
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation
}

impl AccessTokens {
    /// A verifier with no key yet (see [`AccessTokens::set_keys`]), and
    /// revision 2's HS256 secrets when a deployment is moving from it.
    pub fn new(
        issuer: impl Into<String>,
        audience: impl Into<String>,
        ttl: Duration,
        legacy: Vec<LegacyKey>,
    ) -> anyhow::Result<Self> {
        let (issuer, audience) = (issuer.into(), audience.into());
        let legacy = if legacy.is_empty() {
            None
        } else {
            let keys = legacy
                .iter()
                .map(|k| Ok((k.kid.clone(), DecodingKey::from_secret(&k.secret)?)))
                .collect::<Result<_, jsonwebtoken::errors::Error>>()
                .context("loading the HS256 keys")?;
            Some(Legacy {
                keys,
                validation: validation(Algorithm::HS256, &issuer, &audience),
            })
        };
        Ok(Self(Arc::new(Inner {
            validation: validation(Algorithm::EdDSA, &issuer, &audience),
            issuer,
            audience,
            ttl,
            keys: RwLock::default(),
            legacy,
            verified: Mutex::default(),
        })))
    }

    /// Seconds an access token lives.
    pub fn ttl_secs(&self) -> u64 {
        self.0.ttl.as_secs()
    }

    /// The `iss` of tokens.
    pub fn issuer(&self) -> &str {
        &self.0.issuer
    }

    /// The `aud` of tokens.
    pub fn audience(&self) -> &str {
        &self.0.audience
    }

    /// Takes the keys as stored (`rows`, any state) at `now`: publishes
    /// standby and active keys, and retired ones for one token lifetime
    /// after they stopped signing. A key that leaves the set stops
    /// verifying its tokens, remembered ones included. A row that makes no
    /// key (the table's checks prevent it) is left out, and logged. Logs
    /// the set when it changes.
    pub fn set_keys(&self, rows: &[KeyRow], now: DateTime<Utc>) {
        let lifetime = chrono::Duration::from_std(self.0.ttl).unwrap_or(chrono::Duration::MAX)
            + chrono::Duration::seconds(LEEWAY_SECS as i64);
        let mut set = KeySet {
            first_created: rows.iter().map(|r| r.created_at.timestamp()).min(),
            ..KeySet::default()
        };
        let mut rows: Vec<&KeyRow> = rows.iter().collect();
        rows.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(a.kid.cmp(&b.kid)));
        for row in rows {
            let Some(state) = KeyState::parse(&row.state) else {
                tracing::error!(kid = %row.kid, state = %row.state, "a signing key in no known state: not published");
                continue;
            };
            let published = match state {
                KeyState::Standby | KeyState::Active => true,
                KeyState::Retired => row.retired_at.is_none_or(|at| at + lifetime > now),
                KeyState::Revoked => false,
            };
            if !published {
                continue;
            }
            // jsonwebtoken reads the first 32 bytes of a key: a shorter one
            // must not reach it.
            if row.public_key.len() != 32 {
                tracing::error!(kid = %row.kid, bytes = row.public_key.len(), "a signing key whose public key is not 32 bytes: not published");
                continue;
            }
            if state == KeyState::Active {
                set.active = Some(row.kid.clone());
            }
            set.published.push(Published {
                kid: row.kid.clone(),
                state,
                decoding: DecodingKey::from_ed_der(&row.public_key),
                public_key: row.public_key.clone(),
            });
        }
        let states = |set: &KeySet| -> Vec<(String, KeyState)> {
            set.published
                .iter()
                .map(|k| (k.kid.clone(), k.state))
                .collect()
        };
        let mut keys = self.0.keys.write().unwrap_or_else(|e| e.into_inner());
        if states(&keys) != states(&set) {
            let published: Vec<String> = set
                .published
                .iter()
                .map(|k| format!("{} ({})", k.kid, k.state.as_str()))
                .collect();
            tracing::info!(published = %published.join(", "), "signing keys");
        }
        *keys = Arc::new(set);
    }

    fn keys(&self) -> Arc<KeySet> {
        Arc::clone(&self.0.keys.read().unwrap_or_else(|e| e.into_inner()))
    }

    /// The id of the key that signs, once one is known.
    pub fn active_kid(&self) -> Option<String> {
        self.keys().active.clone()
    }

    /// The published key set as JWKs (`auth.jwks`), newest first.
    pub fn published(&self) -> Vec<Jwk> {
        self.keys()
            .published
            .iter()
            .map(|k| Jwk::ed25519(&k.kid, &URL_SAFE_NO_PAD.encode(&k.public_key)))
            .collect()
    }

    /// Verifies signature, algorithm, type, key, issuer, audience, and the
    /// times against `now` (within a few seconds' leeway between clocks).
    pub fn verify(&self, token: &str, now: DateTime<Utc>) -> Result<Claims, Rejected> {
        let keys = self.keys();
        let remembered = self.verified().get(token);
        let claims = match remembered {
            Some((claims, VerifiedBy::Ed25519(kid))) => {
                if keys.decoding(&kid).is_none() {
                    return Err(Rejected::UnknownKey(Some(kid)));
                }
                claims
            }
            Some((claims, VerifiedBy::Legacy)) => claims,
            None => {
                let (claims, by) = self.verify_signed(&keys, token)?;
                self.verified()
                    .insert(token.to_owned(), (claims.clone(), by));
                claims
            }
        };
        let (now, leeway) = (now.timestamp(), LEEWAY_SECS as i64);
        if claims.exp.saturating_add(leeway) <= now {
            return Err(Rejected::Invalid("expired".to_owned()));
        }
        if claims.nbf.saturating_sub(leeway) > now {
            return Err(Rejected::Invalid("not yet valid".to_owned()));
        }
        Ok(claims)
    }

    /// The tenant of `token` when this process has verified its
    /// signature before (it is remembered); `None` otherwise, without
    /// verifying it now. For grouping requests by tenant before they run
    /// ([`crate::fairness`]), never for authenticating them.
    pub fn remembered_tenant(&self, token: &str) -> Option<Uuid> {
        self.verified().tenant_of(token)
    }

    fn verified(&self) -> std::sync::MutexGuard<'_, Verified> {
        // A panic elsewhere cannot leave it inconsistent: each call is one
        // map operation.
        self.0.verified.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The claims of `token` once its header, signature, issuer and
    /// audience check out (not its times), and which key verified it.
    fn verify_signed(&self, keys: &KeySet, token: &str) -> Result<(Claims, VerifiedBy), Rejected> {
        let header =
            jsonwebtoken::decode_header(token).map_err(|e| Rejected::Malformed(e.to_string()))?;
        if header.typ.as_deref() != Some(ACCESS_TOKEN_TYPE) {
            return Err(Rejected::Type(header.typ));
        }
        match (header.alg, &self.0.legacy) {
            (Algorithm::EdDSA, _) => {
                let kid = header.kid.ok_or(Rejected::UnknownKey(None))?;
                let key = keys
                    .decoding(&kid)
                    .ok_or_else(|| Rejected::UnknownKey(Some(kid.clone())))?;
                let claims = jsonwebtoken::decode::<Claims>(token, key, &self.0.validation)
                    .map_err(|e| Rejected::Invalid(e.to_string()))?
                    .claims;
                Ok((claims, VerifiedBy::Ed25519(kid)))
            }
            (Algorithm::HS256, Some(legacy)) => {
                let key = header
                    .kid
                    .as_ref()
                    .and_then(|kid| legacy.keys.get(kid))
                    .ok_or_else(|| Rejected::UnknownKey(header.kid.clone()))?;
                let mut claims = jsonwebtoken::decode::<Claims>(token, key, &legacy.validation)
                    .map_err(|e| Rejected::Invalid(e.to_string()))?
                    .claims;
                // Issued before the upgrade, and expiring within one token
                // lifetime of it: whoever still holds the old secret cannot
                // date a token back with a far expiry.
                let lifetime = i64::try_from(self.0.ttl.as_secs()).unwrap_or(i64::MAX);
                let window = keys.first_created.map(|first| {
                    (
                        first,
                        first
                            .saturating_add(lifetime)
                            .saturating_add(LEEWAY_SECS as i64),
                    )
                });
                if window.is_none_or(|(first, closes)| claims.iat > first || claims.exp > closes) {
                    return Err(Rejected::LegacyAfterUpgrade);
                }
                if claims.auth_time == 0 {
                    claims.auth_time = claims.iat;
                }
                Ok((claims, VerifiedBy::Legacy))
            }
            (alg, _) => Err(Rejected::Algorithm(format!("{alg:?}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{EncodingKey, Header};

    /// A key pair made from `seed`: its row (in `state`) and its signing key.
    fn key(kid: &str, seed: u8, state: KeyState) -> (KeyRow, EncodingKey) {
        let signing = ed25519_dalek::SigningKey::from_bytes(&[seed; 32]);
        use ed25519_dalek::pkcs8::EncodePrivateKey;
        let der = signing.to_pkcs8_der().unwrap();
        let row = KeyRow {
            kid: kid.to_owned(),
            state: state.as_str().to_owned(),
            public_key: signing.verifying_key().to_bytes().to_vec(),
            created_at: Utc::now() - chrono::Duration::seconds(i64::from(seed)),
            retired_at: None,
        };
        (row, EncodingKey::from_ed_der(der.as_bytes()))
    }

    fn tokens(rows: &[KeyRow]) -> AccessTokens {
        let t = AccessTokens::new("olympus", "olympus", Duration::from_secs(60), vec![]).unwrap();
        t.set_keys(rows, Utc::now());
        t
    }

    fn claims(user: Uuid, role: Role) -> Claims {
        let now = Utc::now().timestamp();
        Claims {
            iss: "olympus".to_owned(),
            aud: "olympus".to_owned(),
            sub: user,
            tid: Uuid::nil(),
            sid: Uuid::nil(),
            role,
            amr: password_only(),
            auth_time: now,
            iat: now,
            nbf: now,
            exp: now + 60,
            jti: Uuid::now_v7(),
        }
    }

    fn sign_with(alg: Algorithm, kid: &str, claims: &Claims, key: &EncodingKey) -> String {
        let mut header = Header::new(alg);
        header.typ = Some(ACCESS_TOKEN_TYPE.to_owned());
        header.kid = Some(kid.to_owned());
        jsonwebtoken::encode(&header, claims, key).unwrap()
    }

    fn issue(kid: &str, key: &EncodingKey) -> String {
        sign_with(
            Algorithm::EdDSA,
            kid,
            &claims(Uuid::now_v7(), Role::Owner),
            key,
        )
    }

    #[test]
    fn a_token_verifies_with_its_claims() {
        let (row, key) = key("k1", 1, KeyState::Active);
        let t = tokens(&[row]);
        let user = Uuid::now_v7();
        let token = sign_with(Algorithm::EdDSA, "k1", &claims(user, Role::Admin), &key);
        let claims = t.verify(&token, Utc::now()).unwrap();
        assert_eq!(claims.sub, user);
        assert_eq!(claims.role, Role::Admin);
        assert_eq!(claims.amr, ["pwd"]);
        assert_eq!(t.active_kid().as_deref(), Some("k1"));
    }

    #[test]
    fn standby_and_recently_retired_keys_verify_revoked_and_long_retired_do_not() {
        let (standby, standby_key) = key("standby", 1, KeyState::Standby);
        let (mut retired, retired_key) = key("retired", 2, KeyState::Retired);
        retired.retired_at = Some(Utc::now() - chrono::Duration::seconds(30));
        let (mut old, old_key) = key("old", 3, KeyState::Retired);
        old.retired_at = Some(Utc::now() - chrono::Duration::seconds(60 + 6));
        let (revoked, revoked_key) = key("revoked", 4, KeyState::Revoked);
        let t = tokens(&[standby, retired, old, revoked]);
        assert!(t
            .verify(&issue("standby", &standby_key), Utc::now())
            .is_ok());
        assert!(t
            .verify(&issue("retired", &retired_key), Utc::now())
            .is_ok());
        for (kid, key) in [("old", &old_key), ("revoked", &revoked_key)] {
            assert!(matches!(
                t.verify(&issue(kid, key), Utc::now()),
                Err(Rejected::UnknownKey(_))
            ));
        }
        let published: Vec<String> = t.published().into_iter().map(|k| k.kid).collect();
        assert_eq!(published, ["standby", "retired"], "newest first");
        assert_eq!(t.active_kid(), None);
    }

    #[test]
    fn a_revoked_key_stops_verifying_remembered_tokens() {
        let (row, key) = key("k1", 1, KeyState::Active);
        let t = tokens(std::slice::from_ref(&row));
        let token = issue("k1", &key);
        assert!(t.verify(&token, Utc::now()).is_ok());
        assert!(t.verified().newer.contains_key(&token), "remembered");
        let revoked = KeyRow {
            state: "revoked".to_owned(),
            ..row
        };
        t.set_keys(&[revoked], Utc::now());
        assert!(matches!(
            t.verify(&token, Utc::now()),
            Err(Rejected::UnknownKey(_))
        ));
    }

    #[test]
    fn another_key_under_a_known_kid_hs256_and_none_are_refused() {
        let (row, _) = key("k1", 1, KeyState::Active);
        let (_, other) = key("k1", 9, KeyState::Active);
        let t = tokens(&[row]);
        assert!(matches!(
            t.verify(&issue("k1", &other), Utc::now()),
            Err(Rejected::Invalid(_))
        ));
        let hs = EncodingKey::from_secret(&[7; 32]).unwrap();
        let token = sign_with(
            Algorithm::HS256,
            "k1",
            &claims(Uuid::nil(), Role::Owner),
            &hs,
        );
        assert!(matches!(
            t.verify(&token, Utc::now()),
            Err(Rejected::Algorithm(_))
        ));
    }

    #[test]
    fn wrong_issuer_or_audience_is_rejected() {
        let (row, key) = key("k1", 1, KeyState::Active);
        let token = issue("k1", &key);
        for (iss, aud) in [("someone-else", "olympus"), ("olympus", "another-api")] {
            let t = AccessTokens::new(iss, aud, Duration::from_secs(60), vec![]).unwrap();
            t.set_keys(std::slice::from_ref(&row), Utc::now());
            assert!(t.verify(&token, Utc::now()).is_err(), "{iss} {aud}");
        }
    }

    #[test]
    fn hs256_tokens_verify_only_when_configured_and_issued_before_the_first_key() {
        let (row, _) = key("k1", 1, KeyState::Active);
        let upgrade = row.created_at.timestamp();
        let legacy = LegacyKey::new("old", vec![7; 32]).unwrap();
        let t = AccessTokens::new(
            "olympus",
            "olympus",
            Duration::from_secs(3600),
            vec![legacy],
        )
        .unwrap();
        t.set_keys(&[row], Utc::now());
        let secret = EncodingKey::from_secret(&[7; 32]).unwrap();
        let mut before = claims(Uuid::now_v7(), Role::Member);
        before.iat = upgrade - 10;
        before.auth_time = 0;
        let token = sign_with(Algorithm::HS256, "old", &before, &secret);
        let verified = t.verify(&token, Utc::now()).unwrap();
        assert_eq!(
            verified.auth_time,
            upgrade - 10,
            "revision 2's tokens: the issue time"
        );
        let mut after = before.clone();
        after.iat = upgrade + 1;
        let forged = sign_with(Algorithm::HS256, "old", &after, &secret);
        assert!(matches!(
            t.verify(&forged, Utc::now()),
            Err(Rejected::LegacyAfterUpgrade)
        ));
        // Dated before the upgrade, but expiring past the window: forged.
        let mut far = before.clone();
        far.exp = upgrade + 3600 + LEEWAY_SECS as i64 + 1;
        let far = sign_with(Algorithm::HS256, "old", &far, &secret);
        assert!(matches!(
            t.verify(&far, Utc::now()),
            Err(Rejected::LegacyAfterUpgrade)
        ));
        let wrong = sign_with(
            Algorithm::HS256,
            "old",
            &before,
            &EncodingKey::from_secret(&[8; 32]).unwrap(),
        );
        assert!(t.verify(&wrong, Utc::now()).is_err());
    }

    #[test]
    fn a_remembered_token_is_still_refused_once_expired_or_before_its_time() {
        let (row, key) = key("k1", 1, KeyState::Active);
        let t = tokens(&[row]);
        let token = issue("k1", &key);
        let now = Utc::now();
        assert!(t.verify(&token, now).is_ok());
        let later = now + chrono::Duration::seconds(60 + LEEWAY_SECS as i64 + 1);
        assert!(matches!(t.verify(&token, later), Err(Rejected::Invalid(why)) if why == "expired"));
        let earlier = now - chrono::Duration::seconds(LEEWAY_SECS as i64 + 2);
        assert!(
            matches!(t.verify(&token, earlier), Err(Rejected::Invalid(why)) if why == "not yet valid")
        );
    }

    #[test]
    fn only_a_token_whose_signature_verified_is_remembered() {
        let (row, key) = key("k1", 1, KeyState::Active);
        let t = tokens(&[row]);
        let token = issue("k1", &key);
        assert!(t.verify(&token, Utc::now()).is_ok());
        // The same header and claims under another signature.
        let (signed, signature) = token.rsplit_once('.').unwrap();
        let flipped = if signature.starts_with('A') { 'B' } else { 'A' };
        let forged = format!("{signed}.{flipped}{}", &signature[1..]);
        for _ in 0..2 {
            assert!(matches!(
                t.verify(&forged, Utc::now()),
                Err(Rejected::Invalid(_))
            ));
        }
        let verified = t.verified();
        assert_eq!(verified.newer.len() + verified.older.len(), 1);
    }

    #[test]
    fn remembered_tokens_are_bounded_and_the_latest_stay() {
        let (row, key) = key("k1", 1, KeyState::Active);
        let t = tokens(&[row]);
        let issued: Vec<String> = (0..VERIFIED_MAX + 100).map(|_| issue("k1", &key)).collect();
        for token in &issued {
            assert!(t.verify(token, Utc::now()).is_ok());
        }
        let verified = t.verified();
        assert!(verified.newer.len() + verified.older.len() <= VERIFIED_MAX);
        let last = issued.last().unwrap();
        assert!(verified.newer.contains_key(last));
        assert!(
            !verified.newer.contains_key(&issued[0]) && !verified.older.contains_key(&issued[0])
        );
    }

    #[test]
    fn a_short_public_key_or_an_unknown_state_is_not_published() {
        let (mut short, _) = key("short", 1, KeyState::Active);
        short.public_key.truncate(16);
        let (mut odd, _) = key("odd", 2, KeyState::Active);
        odd.state = "paused".to_owned();
        let (good, key) = key("good", 3, KeyState::Standby);
        let t = tokens(&[short, odd, good]);
        let published: Vec<String> = t.published().into_iter().map(|k| k.kid).collect();
        assert_eq!(published, ["good"]);
        assert!(t.verify(&issue("good", &key), Utc::now()).is_ok());
    }

    #[test]
    fn legacy_keys_parse_from_the_environment_format() {
        let secret = STANDARD.encode([7u8; 32]);
        let keys = parse_legacy_keys(&format!("new:{secret}, old:{secret}")).unwrap();
        assert_eq!(keys[0].kid, "new");
        assert_eq!(keys[1].kid, "old");
        assert!(parse_legacy_keys("").is_err());
        assert!(parse_legacy_keys("k:c2hvcnQ=").is_err(), "short secret");
        assert!(parse_legacy_keys("nocolon").is_err());
        assert!(!format!("{:?}", keys[0]).contains(&secret));
    }
}
