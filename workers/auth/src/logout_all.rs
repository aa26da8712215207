//! `auth.logout_all`: ends every session of the caller, this one included.

use olympus_contracts::auth::LogoutAllReply;
use olympus_contracts::event::data::RevocationReason;
use olympus_contracts::shapes::Empty;
use olympus_runtime::{App, Call, Error};

use crate::sessions;

/// Handles `auth.logout_all`.
pub async fn logout_all(app: App, call: Call<Empty>) -> Result<LogoutAllReply, Error> {
    let claims = call.meta.claims()?;
    let mut tx = app.db().tenant(claims.tid).await?;
    let revoked = sessions::revoke_all(
        &mut tx,
        &app.events(&call.meta),
        (claims.tid, claims.sub),
        app.now(),
        RevocationReason::LogoutAll,
    )
    .await?;
    olympus_runtime::db::commit(tx).await?;
    app.announce_revoked(&revoked).await;
    tracing::info!(user_id = %claims.sub, revoked = revoked.len(), "logged out everywhere");
    Ok(LogoutAllReply {
        revoked: revoked.len() as u64,
    })
}
