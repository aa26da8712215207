//! `auth.change_password`: the current password for a new one. A wrong
//! current password counts toward the account's lockout as a failed login
//! does ([`crate::lockout::confirm_password`]). Every session of the user
//! ends (their other devices must log in again); the reply opens a fresh
//! one for the caller.

use olympus_contracts::auth::{ChangePasswordRequest, RefreshReply};
use olympus_contracts::event::data::PasswordChange;
use olympus_contracts::ErrorCode;
use olympus_runtime::{Ctx, Error};

use crate::email::Email;
use crate::lockout;
use crate::password::{self, NewPassword};
use crate::sessions;

/// Handles `auth.change_password`; a wrong current password (or a locked
/// account) is `invalid_credentials`, a new one that breaks the policy
/// `validation_failed` on `new_password` (no password compared).
pub async fn change_password(
    ctx: Ctx,
    request: ChangePasswordRequest,
) -> Result<RefreshReply, Error> {
    let slot = crate::hashing::passwords(ctx.app())?.admit(ctx.party())?;
    let claims = ctx.claims()?.clone();
    // Apart from the request's transaction, which is not held while
    // passwords are hashed.
    let email: Option<String> = ctx
        .apart(Some(claims.tid), async |tx| {
            Ok(sqlx::query_scalar("SELECT email FROM users WHERE id = $1")
                .bind(claims.sub)
                .fetch_optional(&mut **tx)
                .await?)
        })
        .await?;
    let email = email.ok_or_else(|| Error::new(ErrorCode::Unauthenticated))?;
    let email = Email::parse(&email).ok();
    let new_password =
        NewPassword::parse_field("new_password", &request.new_password, email.as_ref())?;
    lockout::confirm_password(&ctx, &slot, &request.current_password).await?;
    let new_hash = slot.hash(new_password.secret()).await?;

    let mut tx = ctx.tx().await?;
    let (user, revoked) = password::set(
        ctx.app(),
        &mut tx,
        claims.sub,
        &new_hash,
        PasswordChange::Changed,
    )
    .await?;
    // The new session is the same login's: its `amr` and `auth_time` stay.
    let login = sessions::Login::of(&claims);
    let (tokens, _) = sessions::open(&ctx, &mut tx, &user, Some(login)).await?;
    tracing::info!(user_id = %claims.sub, revoked = revoked.len(), "password changed");
    ctx.announce_revoked(revoked);
    Ok(RefreshReply { tokens })
}
