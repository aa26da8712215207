//! Issuing token pairs: an access token (a JWT signed with the active
//! signing key, see [`crate::keys`]) and an opaque refresh token.

use chrono::{DateTime, Utc};
use olympus_contracts::shapes::{Role, Tokens};
use olympus_contracts::Secret;
use olympus_runtime::tokens::Claims;
use olympus_runtime::{App, Error};
use uuid::Uuid;

use crate::keys::Signer;

/// Whom a pair is for, and how and when they logged in.
#[derive(Debug, Clone)]
pub struct Holder {
    pub user_id: Uuid,
    pub tenant_id: Uuid,
    pub session_id: Uuid,
    pub role: Role,
    /// The login's `amr` (RFC 8176), kept by the session.
    pub amr: Vec<String>,
    /// When the login happened, kept by the session.
    pub auth_time: DateTime<Utc>,
}

/// An access token for `holder`, living the configured time from `now`.
pub async fn access_token(app: &App, holder: Holder, now: DateTime<Utc>) -> Result<String, Error> {
    let tokens = app.tokens();
    let iat = now.timestamp();
    let claims = Claims {
        iss: tokens.issuer().to_owned(),
        aud: tokens.audience().to_owned(),
        sub: holder.user_id,
        tid: holder.tenant_id,
        sid: holder.session_id,
        role: holder.role,
        amr: holder.amr,
        auth_time: holder.auth_time.timestamp(),
        iat,
        nbf: iat,
        exp: iat.saturating_add(i64::try_from(tokens.ttl_secs()).unwrap_or(i64::MAX)),
        jti: Uuid::now_v7(),
    };
    Signer::of(app)
        .map_err(Error::internal)?
        .sign(app, &claims)
        .await
}

/// The pair the contract returns: a fresh access token for `holder` and
/// `refresh_token`, which expires in `refresh_expires_in` seconds.
pub async fn pair(
    app: &App,
    holder: Holder,
    now: DateTime<Utc>,
    refresh_token: String,
    refresh_expires_in: u64,
) -> Result<Tokens, Error> {
    Ok(Tokens {
        access_token: Secret::new(access_token(app, holder, now).await?),
        token_type: "Bearer".to_owned(),
        expires_in: app.tokens().ttl_secs(),
        refresh_token: Secret::new(refresh_token),
        refresh_expires_in,
    })
}
