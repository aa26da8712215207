//! `auth.sessions.revoke`: ends one of the caller's sessions (another
//! device's, or this one).

use olympus_contracts::auth::RevokeSessionRequest;
use olympus_contracts::event::data;
use olympus_contracts::shapes::Empty;
use olympus_contracts::ErrorCode;
use olympus_runtime::outbox::Event;
use olympus_runtime::{App, Call, Error};
use uuid::Uuid;

/// Handles `auth.sessions.revoke`; another user's session, or one already
/// ended, is `not_found`.
pub async fn revoke(app: App, call: Call<RevokeSessionRequest>) -> Result<Empty, Error> {
    let claims = call.meta.claims()?;
    let session_id = call.body.session_id;
    let mut tx = app.db().tenant(claims.tid).await?;
    let revoked: Option<Uuid> = sqlx::query_scalar(
        "UPDATE sessions SET revoked_at = $3
          WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL AND expires_at > $3
      RETURNING id",
    )
    .bind(session_id)
    .bind(claims.sub)
    .bind(app.now())
    .fetch_optional(&mut *tx)
    .await?;
    if revoked.is_none() {
        return Err(Error::new(ErrorCode::NotFound).with_message("no such live session of yours"));
    }
    app.events(&call.meta)
        .emit(
            &mut tx,
            Event::new(
                claims.tid,
                claims.sub,
                &data::SessionRevoked {
                    user_id: claims.sub,
                    session_id,
                    reason: data::RevocationReason::Revoked,
                },
            ),
        )
        .await?;
    olympus_runtime::db::commit(tx).await?;
    app.announce_revoked(&[session_id]).await;
    Ok(Empty {})
}
