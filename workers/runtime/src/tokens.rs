//! Access tokens (contract §4): HS256 JWTs with `typ: at+jwt` and a `kid`.
//!
//! Every worker verifies them; only the auth worker issues them
//! (`olympus_auth::tokens`), through [`AccessTokens::sign`]. With HS256 the
//! verifier holds the signing secret too, so the key ring lives here: from
//! `OLYMPUS_JWT_KEYS`, or the development key kept in the database.
//!
//! Verification accepts exactly one algorithm, one type, one issuer and one
//! audience, and any key listed in the key ring, so a new signing key can be
//! introduced while tokens signed by the previous one stay valid.
//!
//! A token is used for many requests, so the signature and claims of the
//! tokens verified lately are remembered (up to [`VERIFIED_MAX`] of them, as
//! exact bytes; only a token whose signature verified is remembered): a
//! token seen again skips its decoding and HMAC (an eighth of the server's
//! CPU for `auth.me`), and only its times are checked again. A token's
//! revocation is checked by the caller on every use, remembered or not.

use anyhow::{bail, Context};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use olympus_contracts::shapes::Role;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use uuid::Uuid;

use crate::db::Db;

/// The JWT `typ` header of access tokens (RFC 9068).
pub const ACCESS_TOKEN_TYPE: &str = "at+jwt";

/// Accepted clock difference between processes, in seconds.
pub const LEEWAY_SECS: u64 = 5;

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
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    pub jti: Uuid,
}

/// One signing key.
#[derive(Clone)]
pub struct SigningKey {
    pub kid: String,
    secret: Vec<u8>,
}

impl SigningKey {
    /// A key from its id and secret (at least 32 bytes).
    pub fn new(kid: impl Into<String>, secret: Vec<u8>) -> anyhow::Result<Self> {
        let kid = kid.into();
        if kid.is_empty() || kid.len() > 64 {
            bail!("signing key ids must be 1-64 characters");
        }
        if secret.len() < 32 {
            bail!("signing key {kid:?} is shorter than 32 bytes");
        }
        Ok(Self { kid, secret })
    }
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SigningKey({:?})", self.kid)
    }
}

/// How many verified tokens are remembered, at most.
pub const VERIFIED_MAX: usize = 4_096;

/// Signs and verifies access tokens.
#[derive(Clone)]
pub struct AccessTokens {
    signing_kid: String,
    encoding: EncodingKey,
    decoding: HashMap<String, DecodingKey>,
    validation: Validation,
    issuer: String,
    audience: String,
    ttl: Duration,
    verified: Arc<Mutex<Verified>>,
}

/// Tokens whose signature verified, with their claims, in two generations:
/// a token is looked up in both, and when the newer is full the older is
/// dropped (so the tokens in use stay, and memory is bounded).
#[derive(Default)]
struct Verified {
    newer: HashMap<String, Claims>,
    older: HashMap<String, Claims>,
}

impl Verified {
    fn get(&mut self, token: &str) -> Option<Claims> {
        if let Some(claims) = self.newer.get(token) {
            return Some(claims.clone());
        }
        let (token, claims) = self.older.remove_entry(token)?;
        self.insert(token, claims.clone());
        Some(claims)
    }

    fn insert(&mut self, token: String, claims: Claims) {
        if self.newer.len() >= VERIFIED_MAX / 2 {
            self.older = std::mem::take(&mut self.newer);
        }
        self.newer.insert(token, claims);
    }
}

impl std::fmt::Debug for AccessTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessTokens")
            .field("signing_kid", &self.signing_kid)
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .finish_non_exhaustive()
    }
}

/// Why an access token was refused (for logs; clients see `unauthenticated`).
#[derive(Debug, thiserror::Error)]
pub enum Rejected {
    #[error("malformed token or header: {0}")]
    Malformed(String),
    #[error("algorithm {0:?} is not HS256")]
    Algorithm(String),
    #[error("token type {0:?} is not at+jwt")]
    Type(Option<String>),
    #[error("unknown key id {0:?}")]
    UnknownKey(Option<String>),
    #[error("{0}")]
    Invalid(String),
}

impl AccessTokens {
    /// Signs with the first key, verifies with all of them.
    pub fn new(
        keys: Vec<SigningKey>,
        issuer: impl Into<String>,
        audience: impl Into<String>,
        ttl: Duration,
    ) -> anyhow::Result<Self> {
        let first = keys.first().context("no signing key")?;
        let decoding = keys
            .iter()
            .map(|k| Ok((k.kid.clone(), DecodingKey::from_secret(&k.secret)?)))
            .collect::<Result<_, jsonwebtoken::errors::Error>>()
            .context("loading verification keys")?;
        let (issuer, audience) = (issuer.into(), audience.into());
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[&issuer]);
        validation.set_audience(&[&audience]);
        validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
        // The times are checked in `verify`, against the app's clock.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        Ok(Self {
            signing_kid: first.kid.clone(),
            encoding: EncodingKey::from_secret(&first.secret).context("loading the signing key")?,
            decoding,
            validation,
            issuer,
            audience,
            ttl,
            verified: Arc::default(),
        })
    }

    /// Seconds an access token lives.
    pub fn ttl_secs(&self) -> u64 {
        self.ttl.as_secs()
    }

    /// The `iss` of tokens.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The `aud` of tokens.
    pub fn audience(&self) -> &str {
        &self.audience
    }

    /// Signs claims with the current key (the auth worker issues tokens
    /// with this; tests forge expired ones).
    pub fn sign(&self, claims: &Claims) -> anyhow::Result<String> {
        let mut header = Header::new(Algorithm::HS256);
        header.typ = Some(ACCESS_TOKEN_TYPE.to_owned());
        header.kid = Some(self.signing_kid.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding).context("signing an access token")
    }

    /// Verifies signature, algorithm, type, key, issuer, audience, and the
    /// times against `now` (within a few seconds' leeway between clocks).
    pub fn verify(&self, token: &str, now: DateTime<Utc>) -> Result<Claims, Rejected> {
        let remembered = self.verified().get(token);
        let claims = match remembered {
            Some(claims) => claims,
            None => {
                let claims = self.verify_signed(token)?;
                self.verified().insert(token.to_owned(), claims.clone());
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

    fn verified(&self) -> std::sync::MutexGuard<'_, Verified> {
        // A panic elsewhere cannot leave it inconsistent: each call is one
        // map operation.
        self.verified.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The claims of `token` once its header, signature, issuer and
    /// audience check out (not its times).
    fn verify_signed(&self, token: &str) -> Result<Claims, Rejected> {
        let header =
            jsonwebtoken::decode_header(token).map_err(|e| Rejected::Malformed(e.to_string()))?;
        if header.alg != Algorithm::HS256 {
            return Err(Rejected::Algorithm(format!("{:?}", header.alg)));
        }
        if header.typ.as_deref() != Some(ACCESS_TOKEN_TYPE) {
            return Err(Rejected::Type(header.typ));
        }
        let key = header
            .kid
            .as_ref()
            .and_then(|kid| self.decoding.get(kid))
            .ok_or_else(|| Rejected::UnknownKey(header.kid.clone()))?;
        jsonwebtoken::decode::<Claims>(token, key, &self.validation)
            .map(|data| data.claims)
            .map_err(|e| Rejected::Invalid(e.to_string()))
    }
}

/// Parses `OLYMPUS_JWT_KEYS`: `kid:base64-secret[,kid:base64-secret...]`.
pub fn parse_keys(value: &str) -> anyhow::Result<Vec<SigningKey>> {
    let keys = value
        .split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .map(|entry| {
            let (kid, secret) = entry
                .split_once(':')
                .context("OLYMPUS_JWT_KEYS entries are kid:base64-secret")?;
            let secret = STANDARD
                .decode(secret.trim())
                .with_context(|| format!("the secret of key {kid:?} is not base64"))?;
            SigningKey::new(kid.trim(), secret)
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    if keys.is_empty() {
        bail!("OLYMPUS_JWT_KEYS lists no key");
    }
    Ok(keys)
}

/// The development key ring: generated once, stored in the database, so
/// every process sharing the database signs and verifies alike.
pub async fn database_keys(db: &Db) -> anyhow::Result<Vec<SigningKey>> {
    let mut secret = vec![0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut secret);
    // Processes starting together take turns: the first inserts, the others
    // find its key (without the lock, two could each insert their own).
    let mut tx = db.pool().begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended('olympus signing_keys', 0))")
        .execute(&mut *tx)
        .await
        .context("locking the development signing keys")?;
    sqlx::query(
        "INSERT INTO signing_keys (kid, secret) SELECT $1, $2
         WHERE NOT EXISTS (SELECT 1 FROM signing_keys)",
    )
    .bind(format!("dev-{}", Uuid::now_v7().simple()))
    .bind(&secret)
    .execute(&mut *tx)
    .await
    .context("storing the development signing key")?;
    let rows: Vec<(String, Vec<u8>)> =
        sqlx::query_as("SELECT kid, secret FROM signing_keys ORDER BY created_at DESC, kid")
            .fetch_all(&mut *tx)
            .await
            .context("loading the development signing keys")?;
    // At start-up, on the owner pool: no request waits, and a failure
    // stops the start, so there is no outcome to report.
    #[expect(clippy::disallowed_methods, reason = "not a request's commit")]
    tx.commit().await?;
    rows.into_iter()
        .map(|(kid, secret)| SigningKey::new(kid, secret))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(keys: &[(&str, u8)]) -> AccessTokens {
        let keys = keys
            .iter()
            .map(|(kid, b)| SigningKey::new(*kid, vec![*b; 32]).unwrap())
            .collect();
        AccessTokens::new(keys, "olympus", "olympus", Duration::from_secs(60)).unwrap()
    }

    fn claims(t: &AccessTokens, user: Uuid, role: Role) -> Claims {
        let now = Utc::now().timestamp();
        Claims {
            iss: t.issuer().to_owned(),
            aud: t.audience().to_owned(),
            sub: user,
            tid: Uuid::nil(),
            sid: Uuid::nil(),
            role,
            iat: now,
            nbf: now,
            exp: now + 60,
            jti: Uuid::now_v7(),
        }
    }

    fn issue(t: &AccessTokens) -> String {
        t.sign(&claims(t, Uuid::now_v7(), Role::Owner)).unwrap()
    }

    #[test]
    fn a_token_verifies_with_its_claims() {
        let t = tokens(&[("k1", 1)]);
        let user = Uuid::now_v7();
        let token = t.sign(&claims(&t, user, Role::Admin)).unwrap();
        let claims = t.verify(&token, Utc::now()).unwrap();
        assert_eq!(claims.sub, user);
        assert_eq!(claims.role, Role::Admin);
        let header = jsonwebtoken::decode_header(&token).unwrap();
        assert_eq!(header.typ.as_deref(), Some("at+jwt"));
        assert_eq!(header.kid.as_deref(), Some("k1"));
    }

    #[test]
    fn a_new_key_keeps_old_tokens_valid() {
        let old = tokens(&[("k1", 1)]);
        let token = issue(&old);
        let rotated = tokens(&[("k2", 2), ("k1", 1)]);
        assert!(rotated.verify(&token, Utc::now()).is_ok());
        let dropped = tokens(&[("k2", 2)]);
        assert!(matches!(
            dropped.verify(&token, Utc::now()),
            Err(Rejected::UnknownKey(_))
        ));
    }

    #[test]
    fn wrong_issuer_audience_or_key_is_rejected() {
        let t = tokens(&[("k1", 1)]);
        let token = issue(&t);
        let other_iss = AccessTokens::new(
            vec![SigningKey::new("k1", vec![1; 32]).unwrap()],
            "someone-else",
            "olympus",
            Duration::from_secs(60),
        )
        .unwrap();
        assert!(other_iss.verify(&token, Utc::now()).is_err());
        let other_aud = AccessTokens::new(
            vec![SigningKey::new("k1", vec![1; 32]).unwrap()],
            "olympus",
            "another-api",
            Duration::from_secs(60),
        )
        .unwrap();
        assert!(other_aud.verify(&token, Utc::now()).is_err());
        let same_kid_other_secret = tokens(&[("k1", 9)]);
        assert!(same_kid_other_secret.verify(&token, Utc::now()).is_err());
    }

    #[test]
    fn a_remembered_token_is_still_refused_once_expired_or_before_its_time() {
        let t = tokens(&[("k1", 1)]);
        let token = issue(&t);
        let now = Utc::now();
        assert!(t.verify(&token, now).is_ok());
        assert!(t.verified().newer.contains_key(&token), "remembered");
        let later = now + chrono::Duration::seconds(60 + LEEWAY_SECS as i64 + 1);
        assert!(matches!(t.verify(&token, later), Err(Rejected::Invalid(why)) if why == "expired"));
        let earlier = now - chrono::Duration::seconds(LEEWAY_SECS as i64 + 2);
        assert!(
            matches!(t.verify(&token, earlier), Err(Rejected::Invalid(why)) if why == "not yet valid")
        );
    }

    #[test]
    fn only_a_token_whose_signature_verified_is_remembered() {
        let t = tokens(&[("k1", 1)]);
        let token = issue(&t);
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
        let t = tokens(&[("k1", 1)]);
        let issued: Vec<String> = (0..VERIFIED_MAX + 100).map(|_| issue(&t)).collect();
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
    fn keys_parse_from_the_environment_format() {
        let secret = STANDARD.encode([7u8; 32]);
        let keys = parse_keys(&format!("new:{secret}, old:{secret}")).unwrap();
        assert_eq!(keys[0].kid, "new");
        assert_eq!(keys[1].kid, "old");
        assert!(parse_keys("").is_err());
        assert!(parse_keys("k:c2hvcnQ=").is_err(), "short secret");
        assert!(parse_keys("nocolon").is_err());
        assert!(!format!("{:?}", keys[0]).contains(&secret));
    }
}
