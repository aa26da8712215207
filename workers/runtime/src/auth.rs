//! Bearer authentication, the same for every worker.
//!
//! A token is accepted when its signature, algorithm, type, key, issuer,
//! audience and times check out (see [`crate::tokens`]) *and* its session
//! is still live and its tenant active. The session check is one indexed
//! query, so a logout or a suspension takes effect on the next request.

use olympus_contracts::ErrorCode;

use crate::app::App;
use crate::error::Error;
use crate::tokens::Claims;

/// Verifies an `Authorization` header value.
pub async fn authenticate(app: &App, authorization: Option<&str>) -> Result<Claims, Error> {
    let unauthenticated = |why: &str| {
        tracing::debug!(reason = why, "access token refused");
        Error::new(ErrorCode::Unauthenticated)
    };
    let value = authorization.ok_or_else(|| unauthenticated("no Authorization header"))?;
    let token = value
        .split_once(' ')
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .ok_or_else(|| unauthenticated("not a Bearer authorization"))?;
    check(app, token).await
}

/// Checks an access token: its claims when it is valid and its session
/// live; `unauthenticated` when not (any other error is the database's).
pub async fn check(app: &App, token: &str) -> Result<Claims, Error> {
    let unauthenticated = |why: &str| {
        tracing::debug!(reason = why, "access token refused");
        Error::new(ErrorCode::Unauthenticated)
    };
    let claims = app
        .tokens()
        .verify(token, app.now())
        .map_err(|e| unauthenticated(&e.to_string()))?;
    let mut tx = app.db().tenant(claims.tid).await?;
    let live: Option<bool> = sqlx::query_scalar(
        "SELECT s.revoked_at IS NULL AND s.expires_at > $3 AND t.status = 'active'
           FROM sessions s JOIN tenants t ON t.id = s.tenant_id
          WHERE s.id = $1 AND s.user_id = $2",
    )
    .bind(claims.sid)
    .bind(claims.sub)
    .bind(app.now())
    .fetch_optional(&mut *tx)
    .await?;
    tx.commit().await?;
    match live {
        Some(true) => Ok(claims),
        Some(false) => Err(unauthenticated(
            "session revoked or expired, or tenant suspended",
        )),
        None => Err(unauthenticated("no such session")),
    }
}
