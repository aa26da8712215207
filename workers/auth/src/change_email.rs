//! `auth.change_email` and `auth.confirm_email_change`: moving an account
//! to another address (contract §5, revision 3).
//!
//! The request checks the password (counted toward the lockout, as every
//! password check, [`crate::lockout`]) and mails an `email_change` token
//! only to the new address: whoever asks must also read that mailbox. The
//! token is stored as a hash, works once and lives [`TOKEN_TTL_HOURS`]; a
//! new request replaces a pending one. Whether the address belongs to
//! someone else in the tenant is not said then (members may not list
//! members); confirming answers `conflict` on `email` if it does by then.
//!
//! Confirming works while the session that asked is live, and moves the
//! account (the address counts as verified), retires the reset and
//! verification tokens mailed to the old address, revokes every session of
//! the user but the one that asked, records
//! `user.email_changed`, and mails `email_changed`, a notice without a
//! token, to the old address, so that its owner learns of a change they
//! did not make.

use chrono::Duration;
use olympus_contracts::auth::{ChangeEmailRequest, ConfirmEmailChangeRequest, UserReply};
use olympus_contracts::event::{data, MailTemplate};
use olympus_contracts::shapes::Empty;
use olympus_contracts::ErrorCode;
use olympus_runtime::error::{is_unique_violation, Validation};
use olympus_runtime::outbox::{Mailed, NewMail};
use olympus_runtime::{Ctx, Error};
use uuid::Uuid;

use crate::email::Email;
use crate::users::{UserRow, USER_COLUMNS};
use crate::{lockout, opaque, sessions};

/// How long an email change's token works.
pub const TOKEN_TTL_HOURS: i64 = 24;

/// Handles `auth.change_email`.
pub async fn change_email(ctx: Ctx, request: ChangeEmailRequest) -> Result<Empty, Error> {
    let claims = ctx.claims()?.clone();
    let mut v = Validation::default();
    let new_email = v.check("new_email", Email::parse(&request.new_email));
    v.finish()?;
    let Some(new_email) = new_email else {
        return Err(Error::new(ErrorCode::ValidationFailed));
    };
    let slot = crate::hashing::passwords(ctx.app())?.admit(ctx.party())?;
    lockout::confirm_password(&ctx, &slot, &request.password).await?;

    let mut tx = ctx.tx().await?;
    // Held, so that two requests of one user replace each other in turn.
    let current: Option<String> =
        sqlx::query_scalar("SELECT email FROM users WHERE id = $1 FOR UPDATE")
            .bind(claims.sub)
            .fetch_optional(&mut *tx)
            .await?;
    let current = current.ok_or_else(|| Error::new(ErrorCode::Unauthenticated))?;
    if current == new_email.as_str() {
        return Err(Validation::failed(
            "new_email",
            ["is already the account's address"],
        ));
    }
    let now = ctx.now();
    let expires_at = now + Duration::hours(TOKEN_TTL_HOURS);
    let token = opaque::generate(claims.tid);
    sqlx::query("DELETE FROM email_changes WHERE user_id = $1 AND used_at IS NULL")
        .bind(claims.sub)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO email_changes
                (id, tenant_id, user_id, new_email, session_id, token_hash, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(Uuid::now_v7())
    .bind(claims.tid)
    .bind(claims.sub)
    .bind(new_email.as_str())
    .bind(claims.sid)
    .bind(&token.hash)
    .bind(now)
    .bind(expires_at)
    .execute(&mut *tx)
    .await?;
    let mailed = tx
        .mail(NewMail {
            template: MailTemplate::EmailChange,
            to: new_email.as_str(),
            tenant_id: claims.tid,
            user_id: Some(claims.sub),
            token: Some(&token.token),
            expires_at: Some(expires_at),
        })
        .await?;
    match mailed {
        Mailed::Queued(_) => {
            tracing::info!(user_id = %claims.sub, "email change requested; token mailed to the new address");
            Ok(Empty {})
        }
        Mailed::Limited { retry_after_secs } => Err(Error::new(ErrorCode::RateLimited)
            .with_message("too many mails to that address; retry later")
            .with_detail("retry_after_secs", retry_after_secs)),
    }
}

/// A pending change as confirming finds it.
#[derive(sqlx::FromRow)]
struct Pending {
    user_id: Uuid,
    new_email: String,
    session_id: Option<Uuid>,
    previous_email: String,
}

/// Handles `auth.confirm_email_change`: `invalid_token` for a token
/// unknown, expired or used; `conflict` on `email` when the address is
/// someone else's by now (the token stays usable).
pub async fn confirm(ctx: Ctx, request: ConfirmEmailChangeRequest) -> Result<UserReply, Error> {
    let invalid = || Error::new(ErrorCode::InvalidToken);
    let (tenant_id, hash) = opaque::parse(request.token.expose()).ok_or_else(invalid)?;
    let now = ctx.now();
    let mut tx = ctx.tx_in(tenant_id).await?;
    // Single use, even against a concurrent confirmation with the token.
    // Only while the session that asked is live: a change asked for from a
    // session that was logged out, or revoked by a password change, dies
    // with it.
    let pending: Option<Pending> = sqlx::query_as(
        "UPDATE email_changes c SET used_at = $2
           FROM users u, sessions s
          WHERE c.token_hash = $1 AND c.used_at IS NULL AND c.expires_at > $2
            AND u.id = c.user_id
            AND s.id = c.session_id AND s.revoked_at IS NULL AND s.expires_at > $2
      RETURNING c.user_id, c.new_email, c.session_id, u.email AS previous_email",
    )
    .bind(&hash)
    .bind(now)
    .fetch_optional(&mut *tx)
    .await?;
    let pending = pending.ok_or_else(invalid)?;
    let user_id = pending.user_id;
    // The user acts, though they hold no token here.
    tx.act_as(user_id);
    let moved: UserRow = sqlx::query_as(&format!(
        "UPDATE users SET email = $2, email_verified = true, updated_at = $3
          WHERE id = $1 RETURNING {USER_COLUMNS}"
    ))
    .bind(user_id)
    .bind(&pending.new_email)
    .bind(now)
    .fetch_one(&mut *tx)
    .await
    .map_err(|e| {
        if is_unique_violation(&e, "users_tenant_email_key") {
            Error::conflict("email")
        } else {
            Error::from(e)
        }
    })?;
    let user = moved.into_user()?;
    // Whatever was mailed to the old address stops working.
    for table in ["password_resets", "email_verifications"] {
        sqlx::query(&format!(
            "UPDATE {table} SET used_at = $2 WHERE user_id = $1 AND used_at IS NULL"
        ))
        .bind(user_id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    }
    let reason = data::RevocationReason::EmailChanged;
    let revoked = sessions::revoke_all_but(&mut tx, user_id, pending.session_id, reason).await?;
    let changed = data::UserEmailChanged {
        user_id,
        email: Some(user.email.clone()),
        previous_email: Some(pending.previous_email.clone()),
        sessions_revoked: revoked.len() as u64,
    };
    tx.emit(user_id, &changed).await?;
    // A notice: it does not matter if the old address had its hourly limit.
    tx.mail(NewMail {
        template: MailTemplate::EmailChanged,
        to: &pending.previous_email,
        tenant_id,
        user_id: Some(user_id),
        token: None,
        expires_at: None,
    })
    .await?;
    tracing::info!(%user_id, revoked = revoked.len(), "email changed");
    ctx.announce_revoked(revoked);
    Ok(UserReply { user })
}
