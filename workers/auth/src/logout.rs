//! `auth.logout`: ends the session of a refresh token. Its access tokens
//! are refused from the next request on (see `olympus_runtime::auth`).

use olympus_contracts::auth::LogoutRequest;
use olympus_contracts::shapes::Empty;
use olympus_runtime::{App, Call, Error};

use crate::sessions;

/// Handles `auth.logout`.
pub async fn logout(app: App, call: Call<LogoutRequest>) -> Result<Empty, Error> {
    let events = app.events(&call.meta);
    let (session_id, user_id) = sessions::revoke(&app, &events, &call.body.refresh_token).await?;
    app.announce_revoked(&[session_id]).await;
    tracing::info!(%session_id, %user_id, "logged out");
    Ok(Empty {})
}
