//! Bearer authentication, the same for every worker.
//!
//! A token is accepted when its signature, algorithm, type, key, issuer,
//! audience and times check out (see [`crate::tokens`]) *and* this process
//! does not know its session to be revoked or its tenant suspended (see
//! [`crate::revocation`]): no database round trip, and every process learns
//! of a logout or a suspension within a second. A token's signature is
//! what proves its session existed; the session's expiry bounds the
//! refresh token, the access token's own `exp` bounds it.

use olympus_contracts::ErrorCode;

use chrono::{DateTime, Utc};

use crate::error::Error;
use crate::revocation::{Refusal, Revocations};
use crate::tokens::{AccessTokens, Claims};

/// Verifies an `Authorization` header value.
pub fn authenticate(
    (tokens, revocations): (&AccessTokens, &Revocations),
    now: DateTime<Utc>,
    authorization: Option<&str>,
) -> Result<Claims, Error> {
    let unauthenticated = |why: &str| {
        tracing::debug!(reason = why, "access token refused");
        Error::new(ErrorCode::Unauthenticated)
    };
    let value = authorization.ok_or_else(|| unauthenticated("no Authorization header"))?;
    let token = bearer_token(value).ok_or_else(|| unauthenticated("not a Bearer authorization"))?;
    check(tokens, revocations, now, token)
}

/// The token of a `Bearer <token>` authorization (the scheme in any case).
pub fn bearer_token(authorization: &str) -> Option<&str> {
    authorization
        .split_once(' ')
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
}

/// Checks an access token: its claims when it is valid and its session
/// live; `unauthenticated` when not (any other error is the database's).
pub fn check(
    tokens: &AccessTokens,
    revocations: &Revocations,
    now: DateTime<Utc>,
    token: &str,
) -> Result<Claims, Error> {
    let unauthenticated = |why: &str| {
        tracing::debug!(reason = why, "access token refused");
        Error::new(ErrorCode::Unauthenticated)
    };
    let claims = tokens
        .verify(token, now)
        .map_err(|e| unauthenticated(&e.to_string()))?;
    match revocations.check(claims.sid, claims.tid) {
        Ok(()) => Ok(claims),
        Err(Refusal::Revoked) => Err(unauthenticated("session revoked")),
        Err(Refusal::TenantSuspended) => Err(unauthenticated("tenant suspended")),
        Err(Refusal::Stale) => Err(Error::new(ErrorCode::Unavailable)
            .with_message("cannot check revocations right now; retry")
            .with_detail("retry_after_secs", 1)),
    }
}
