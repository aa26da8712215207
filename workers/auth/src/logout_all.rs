//! `auth.logout_all`: ends every session of the caller, this one included.

use olympus_contracts::auth::LogoutAllReply;
use olympus_contracts::event::data::RevocationReason;
use olympus_contracts::shapes::Empty;
use olympus_runtime::{Ctx, Error};

use crate::sessions;

/// Handles `auth.logout_all`.
pub async fn logout_all(ctx: Ctx, _: Empty) -> Result<LogoutAllReply, Error> {
    let user_id = ctx.claims()?.sub;
    let mut tx = ctx.tx().await?;
    let revoked = sessions::revoke_all(&mut tx, user_id, RevocationReason::LogoutAll).await?;
    tracing::info!(%user_id, revoked = revoked.len(), "logged out everywhere");
    let count = revoked.len() as u64;
    ctx.announce_revoked(revoked);
    Ok(LogoutAllReply { revoked: count })
}
