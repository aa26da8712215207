//! `auth.sessions.revoke`: ends one of the caller's sessions (another
//! device's, or this one).

use olympus_contracts::auth::RevokeSessionRequest;
use olympus_contracts::event::data;
use olympus_contracts::shapes::Empty;
use olympus_contracts::ErrorCode;
use olympus_runtime::{Ctx, Error};
use uuid::Uuid;

/// Handles `auth.sessions.revoke`; another user's session, or one already
/// ended, is `not_found`.
pub async fn revoke(ctx: Ctx, request: RevokeSessionRequest) -> Result<Empty, Error> {
    let user_id = ctx.claims()?.sub;
    let session_id = request.session_id;
    let mut tx = ctx.tx().await?;
    let revoked: Option<Uuid> = sqlx::query_scalar(
        "UPDATE sessions SET revoked_at = $3
          WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL AND expires_at > $3
      RETURNING id",
    )
    .bind(session_id)
    .bind(user_id)
    .bind(ctx.now())
    .fetch_optional(&mut *tx)
    .await?;
    if revoked.is_none() {
        return Err(Error::new(ErrorCode::NotFound).with_message("no such live session of yours"));
    }
    let reason = data::RevocationReason::Revoked;
    tx.emit(
        user_id,
        &data::SessionRevoked {
            user_id,
            session_id,
            reason,
        },
    )
    .await?;
    ctx.announce_revoked(vec![session_id]);
    Ok(Empty {})
}
