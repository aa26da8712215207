//! `auth.refresh`: a refresh token for a new pair.

use olympus_contracts::auth::{RefreshReply, RefreshRequest};
use olympus_runtime::{Ctx, Error};

use crate::sessions;

/// Handles `auth.refresh`.
pub async fn refresh(ctx: Ctx, request: RefreshRequest) -> Result<RefreshReply, Error> {
    let tokens = sessions::rotate(&ctx, &request.refresh_token).await?;
    Ok(RefreshReply { tokens })
}
