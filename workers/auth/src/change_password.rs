//! `auth.change_password`: the current password for a new one. Every
//! session of the user ends (their other devices must log in again); the
//! reply opens a fresh one for the caller.

use olympus_contracts::auth::{ChangePasswordRequest, RefreshReply};
use olympus_contracts::event::data::PasswordChange;
use olympus_contracts::ErrorCode;
use olympus_runtime::{App, Call, Error};

use crate::email::Email;
use crate::password::{self, NewPassword};
use crate::sessions;
use crate::users::{UserRow, USER_COLUMNS};

#[derive(sqlx::FromRow)]
struct Current {
    #[sqlx(flatten)]
    user: UserRow,
    password_hash: String,
}

/// Handles `auth.change_password`; a wrong current password is
/// `invalid_credentials`, a new one that breaks the policy
/// `validation_failed` on `new_password`.
pub async fn change_password(
    app: App,
    call: Call<ChangePasswordRequest>,
) -> Result<RefreshReply, Error> {
    let slot = crate::hashing::passwords(&app)?.admit()?;
    let claims = call.meta.claims()?.clone();
    let mut tx = app.db().tenant(claims.tid).await?;
    let current: Option<Current> = sqlx::query_as(&format!(
        "SELECT {USER_COLUMNS}, password_hash FROM users WHERE id = $1"
    ))
    .bind(claims.sub)
    .fetch_optional(&mut *tx)
    .await?;
    olympus_runtime::db::commit(tx).await?;
    let current = current.ok_or_else(|| Error::new(ErrorCode::Unauthenticated))?;
    let email = Email::parse(&current.user.email).ok();
    let new_password =
        NewPassword::parse_field("new_password", &call.body.new_password, email.as_ref())?;
    if !slot
        .verify(&call.body.current_password, Some(&current.password_hash))
        .await?
    {
        return Err(Error::new(ErrorCode::InvalidCredentials));
    }
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
