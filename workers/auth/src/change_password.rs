//! `auth.change_password`: the current password for a new one. A wrong
//! current password counts toward the account's lockout as a failed login
//! does ([`crate::lockout::confirm_password`]). Every session of the user
//! ends (their other devices must log in again); the reply opens a fresh
//! one for the caller.

use olympus_contracts::auth::{ChangePasswordRequest, RefreshReply};
use olympus_contracts::event::data::PasswordChange;
use olympus_contracts::ErrorCode;
use olympus_runtime::{App, Call, Error};

use crate::email::Email;
use crate::lockout;
use crate::password::{self, NewPassword};
use crate::sessions;

/// Handles `auth.change_password`; a wrong current password (or a locked
/// account) is `invalid_credentials`, a new one that breaks the policy
/// `validation_failed` on `new_password` (no password compared).
pub async fn change_password(
    app: App,
    call: Call<ChangePasswordRequest>,
) -> Result<RefreshReply, Error> {
    let slot = crate::hashing::passwords(&app)?.admit()?;
    let claims = call.meta.claims()?.clone();
    let mut tx = app.db().tenant(claims.tid).await?;
    let email: Option<String> = sqlx::query_scalar("SELECT email FROM users WHERE id = $1")
        .bind(claims.sub)
        .fetch_optional(&mut *tx)
        .await?;
    olympus_runtime::db::commit(tx).await?;
    let email = email.ok_or_else(|| Error::new(ErrorCode::Unauthenticated))?;
    let email = Email::parse(&email).ok();
    let new_password =
        NewPassword::parse_field("new_password", &call.body.new_password, email.as_ref())?;
    lockout::confirm_password(&app, &call.meta, &slot, &call.body.current_password).await?;
    let new_hash = slot.hash(new_password.secret()).await?;

    let mut tx = app.db().tenant(claims.tid).await?;
    let (user, revoked) = password::set(
        &app,
        &mut tx,
        &app.events(&call.meta),
        (claims.tid, claims.sub),
        &new_hash,
        PasswordChange::Changed,
    )
    .await?;
    let (tokens, _) = sessions::open(&app, &mut tx, &user, &call.meta).await?;
    olympus_runtime::db::commit(tx).await?;
    app.announce_revoked(&revoked).await;
    tracing::info!(user_id = %claims.sub, revoked = revoked.len(), "password changed");
    Ok(RefreshReply { tokens })
}
