//! `auth.logout`: ends the session of a refresh token. Its access tokens
//! are refused from the next request on (see `olympus_runtime::auth`).

use olympus_contracts::auth::LogoutRequest;
use olympus_contracts::shapes::Empty;
use olympus_runtime::{Ctx, Error};

use crate::sessions;

/// Handles `auth.logout`.
pub async fn logout(ctx: Ctx, request: LogoutRequest) -> Result<Empty, Error> {
    let (session_id, user_id) = sessions::revoke(&ctx, &request.refresh_token).await?;
    ctx.announce_revoked(vec![session_id]);
    tracing::info!(%session_id, %user_id, "logged out");
    Ok(Empty {})
}
