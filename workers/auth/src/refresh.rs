//! `auth.refresh`: a refresh token for a new pair.

use olympus_contracts::auth::{RefreshReply, RefreshRequest};
use olympus_runtime::{App, Call, Error};

use crate::sessions;

/// Handles `auth.refresh`.
pub async fn refresh(app: App, call: Call<RefreshRequest>) -> Result<RefreshReply, Error> {
    let events = app.events(&call.meta);
    let tokens = sessions::rotate(&app, &events, &call.body.refresh_token).await?;
    Ok(RefreshReply { tokens })
}
