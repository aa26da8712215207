//! `auth.request_password_reset` and `auth.reset_password`.
//!
//! A request is answered `{}` at once, before anything is looked up, so
//! its reply and its time say nothing of whether the account exists; the
//! work (a single-use token valid one hour, stored as a hash, and the
//! `password_reset` mail, within the recipient's hourly mail limit) is
//! done after the reply. A reset sets the new password, lifts a lockout and
//! ends every session of the user.

use chrono::Duration;
use olympus_contracts::auth::{RequestPasswordResetRequest, ResetPasswordRequest};
use olympus_contracts::event::data::PasswordChange;
use olympus_contracts::event::MailTemplate;
use olympus_contracts::shapes::Empty;
use olympus_contracts::ErrorCode;
use olympus_runtime::outbox::{Mailed, NewMail};
use olympus_runtime::{Ctx, Error};
use uuid::Uuid;

use crate::opaque;

use crate::email::Email;
use crate::login::could_be_slug;
use crate::password::{self, NewPassword};

/// How long a reset token works.
pub const TOKEN_TTL_MINUTES: i64 = 60;

/// Handles `auth.request_password_reset`.
pub async fn request(ctx: Ctx, request: RequestPasswordResetRequest) -> Result<Empty, Error> {
    let RequestPasswordResetRequest { tenant, email } = request;
    let after = ctx.clone();
    ctx.after_reply(async move {
        if let Err(err) = send_token(&after, &tenant, &email).await {
            tracing::error!(error = %err, "issuing a password reset");
        }
    });
    Ok(Empty {})
}

/// After the reply: the token and the mail, when the account exists.
async fn send_token(ctx: &Ctx, slug: &str, raw_email: &str) -> Result<(), Error> {
    let (Ok(email), true) = (Email::parse(raw_email), could_be_slug(slug)) else {
        return Ok(());
    };
    // The spelling stored before revision 3 first: an account kept in it
    // (its normal form was taken, see crate::email) is the one meant.
    let spellings: Vec<String> = email
        .stored_before_revision_3(raw_email)
        .into_iter()
        .chain([email.as_str().to_owned()])
        .collect();
    #[derive(sqlx::FromRow)]
    struct Tenant {
        id: Uuid,
        active: bool,
    }
    let tenant: Option<Tenant> = ctx
        .look_up(|pool| {
            sqlx::query_as("SELECT id, active FROM olympus_tenant_by_slug($1)")
                .bind(slug)
                .fetch_optional(pool)
        })
        .await?;
    let Some(Tenant {
        id: tenant_id,
        active: true,
    }) = tenant
    else {
        return Ok(());
    };
    let now = ctx.now();
    ctx.apart(Some(tenant_id), async |tx| {
        let user: Option<(Uuid, String)> = sqlx::query_as(
            "SELECT id, email FROM users WHERE email = ANY($1)
              ORDER BY array_position($1, email) LIMIT 1",
        )
        .bind(&spellings)
        .fetch_optional(&mut **tx)
        .await?;
        let Some((user_id, address)) = user else {
            return Ok(());
        };
        let token = opaque::generate(tenant_id);
        let expires_at = now + Duration::minutes(TOKEN_TTL_MINUTES);
        let mailed = tx
            .mail(NewMail {
                template: MailTemplate::PasswordReset,
                to: &address,
                tenant_id,
                user_id: Some(user_id),
                token: Some(&token.token),
                expires_at: Some(expires_at),
            })
            .await?;
        if let Mailed::Queued(_) = mailed {
            sqlx::query(
                "INSERT INTO password_resets (token_hash, tenant_id, user_id, created_at, expires_at)
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(&token.hash)
            .bind(tenant_id)
            .bind(user_id)
            .bind(now)
            .bind(expires_at)
            .execute(&mut **tx)
            .await?;
        }
        Ok(())
    })
    .await
}

/// Handles `auth.reset_password`: `invalid_token` for a token unknown,
/// expired or used; `validation_failed` on `new_password` (the token stays
/// usable) for a password the policy refuses.
pub async fn reset(ctx: Ctx, request: ResetPasswordRequest) -> Result<Empty, Error> {
    let slot = crate::hashing::passwords(ctx.app())?.admit(ctx.party())?;
    let invalid = || Error::new(ErrorCode::InvalidToken);
    let (tenant_id, hash) = opaque::parse(request.token.expose()).ok_or_else(invalid)?;
    let now = ctx.now();
    // A look apart from the request's transaction, which is not held while
    // the password is hashed.
    let found: Option<(Uuid, String)> = ctx
        .apart(Some(tenant_id), async |tx| {
            Ok(sqlx::query_as(
                "SELECT u.id, u.email FROM password_resets r JOIN users u ON u.id = r.user_id
                  WHERE r.token_hash = $1 AND r.used_at IS NULL AND r.expires_at > $2",
            )
            .bind(&hash)
            .bind(now)
            .fetch_optional(&mut **tx)
            .await?)
        })
        .await?;
    let (user_id, email) = found.ok_or_else(invalid)?;
    let email = Email::parse(&email).ok();
    let password = NewPassword::parse_field("new_password", &request.new_password, email.as_ref())?;
    let password_hash = slot.hash(password.secret()).await?;

    let mut tx = ctx.tx_in(tenant_id).await?;
    // Single use, even against a concurrent reset with the same token.
    let used: Option<Uuid> = sqlx::query_scalar(
        "UPDATE password_resets SET used_at = $2
          WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2
      RETURNING user_id",
    )
    .bind(&hash)
    .bind(now)
    .fetch_optional(&mut *tx)
    .await?;
    if used.is_none() {
        return Err(invalid());
    }
    // The user acts, though they hold no token.
    tx.act_as(user_id);
    let (_, revoked) = password::set(
        ctx.app(),
        &mut tx,
        user_id,
        &password_hash,
        PasswordChange::Reset,
    )
    .await?;
    tracing::info!(%user_id, revoked = revoked.len(), "password reset");
    ctx.announce_revoked(revoked);
    Ok(Empty {})
}
