//! Email verification: a single-use token, valid 24 hours, stored only as a
//! hash, sent only on the mail subject; and `auth.verify_email`.

use chrono::{DateTime, Duration, Utc};
use olympus_contracts::auth::{UserReply, VerifyEmailRequest};
use olympus_contracts::event::{data, MailTemplate};
use olympus_contracts::shapes::User;
use olympus_contracts::ErrorCode;
use olympus_runtime::outbox::{Mailed, NewMail};
use olympus_runtime::{Ctx, Error, Tx};
use uuid::Uuid;

use crate::opaque;

use crate::users::{UserRow, USER_COLUMNS};

/// How long a verification token works.
pub const TOKEN_TTL_HOURS: i64 = 24;

/// Issues a verification token for `user` and queues the `verify_email`
/// mail, in `tx` (the user's tenant's); nothing when the address had its
/// hourly limit of mails.
pub async fn issue(tx: &mut Tx<'_>, user: &User, now: DateTime<Utc>) -> Result<Mailed, Error> {
    let token = opaque::generate(user.tenant_id);
    let expires_at = now + Duration::hours(TOKEN_TTL_HOURS);
    sqlx::query(
        "INSERT INTO email_verifications (token_hash, tenant_id, user_id, expires_at)
         VALUES ($1, $2, $3, $4)",
    )
    .bind(&token.hash)
    .bind(user.tenant_id)
    .bind(user.id)
    .bind(expires_at)
    .execute(&mut **tx)
    .await?;
    tx.mail(NewMail {
        template: MailTemplate::VerifyEmail,
        to: &user.email,
        tenant_id: user.tenant_id,
        user_id: Some(user.id),
        token: Some(&token.token),
        expires_at: Some(expires_at),
    })
    .await
}

/// Handles `auth.verify_email`.
pub async fn verify_email(ctx: Ctx, request: VerifyEmailRequest) -> Result<UserReply, Error> {
    let invalid = || Error::new(ErrorCode::InvalidToken);
    let (tenant_id, hash) = opaque::parse(request.token.expose()).ok_or_else(invalid)?;
    let mut tx = ctx.tx_in(tenant_id).await?;
    let user_id: Option<Uuid> = sqlx::query_scalar(
        "UPDATE email_verifications SET used_at = $2
          WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2
      RETURNING user_id",
    )
    .bind(&hash)
    .bind(ctx.now())
    .fetch_optional(&mut *tx)
    .await?;
    let user_id = user_id.ok_or_else(invalid)?;
    let user: UserRow = sqlx::query_as(&format!(
        "UPDATE users SET email_verified = true, updated_at = $2 WHERE id = $1
         RETURNING {USER_COLUMNS}"
    ))
    .bind(user_id)
    .bind(ctx.now())
    .fetch_one(&mut *tx)
    .await?;
    let user = user.into_user()?;
    let verified = data::UserEmailVerified {
        user_id: user.id,
        email: Some(user.email.clone()),
    };
    tx.emit_by(user.id, user.id, &verified).await?;
    Ok(UserReply { user })
}
