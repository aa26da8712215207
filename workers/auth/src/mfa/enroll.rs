//! `auth.mfa.totp.enroll` and `auth.mfa.totp.confirm`: setting up a TOTP
//! authenticator.
//!
//! Enrolling makes a secret and keeps it, sealed, as the caller's pending
//! enrollment for [`ENROLLMENT_TTL_SECS`] (a new enrollment replaces the
//! previous); nothing changes for the caller's logins until they confirm it
//! with a code from the app. Confirming turns TOTP on (`user.mfa_enabled`)
//! and answers ten recovery codes, shown only then. The confirming code is
//! spent: it cannot log in afterwards. Every other session of the user is
//! revoked: one opened with a leaked password must not outlive the second
//! factor that was set up against it. The caller's own session stays (its
//! tokens still say `amr: ["pwd"]`).
//!
//! A wrong code at confirmation is `invalid_credentials` and does not count
//! toward the lockout: whoever confirms was just given the secret.

use chrono::TimeDelta;
use olympus_contracts::auth::{RecoveryCodesReply, TotpConfirmRequest, TotpEnrollReply};
use olympus_contracts::event::data;
use olympus_contracts::shapes::Empty;
use olympus_contracts::{ErrorCode, Secret};
use olympus_runtime::{Ctx, Error};
use uuid::Uuid;

use super::{recovery_codes, totp};
use crate::keys::Kek;
use crate::sessions;

/// How long an enrollment waits for its confirmation.
pub const ENROLLMENT_TTL_SECS: i64 = 600;

fn already_on() -> Error {
    Error::new(ErrorCode::Conflict)
        .with_message("TOTP is already on (turn it off with auth.mfa.disable first)")
        .with_detail("field", "totp")
}

/// Handles `auth.mfa.totp.enroll`.
pub async fn enroll(ctx: Ctx, _: Empty) -> Result<TotpEnrollReply, Error> {
    let claims = ctx.claims()?.clone();
    let kek = Kek::of(ctx.app()).map_err(Error::internal)?;
    let secret = totp::Secret::generate();
    let sealed = secret.seal(&kek, claims.sub)?;
    let mut tx = ctx.tx().await?;
    let row: Option<(bool, String, String)> = sqlx::query_as(
        "SELECT u.mfa_enabled, u.email, t.name
           FROM users u JOIN tenants t ON t.id = u.tenant_id
          WHERE u.id = $1 FOR UPDATE OF u",
    )
    .bind(claims.sub)
    .fetch_optional(&mut *tx)
    .await?;
    let (enabled, email, tenant_name) =
        row.ok_or_else(|| Error::new(ErrorCode::Unauthenticated))?;
    if enabled {
        return Err(already_on());
    }
    let enrollment_id = Uuid::now_v7();
    let now = ctx.now();
    sqlx::query(
        "INSERT INTO totp_enrollments (id, tenant_id, user_id, secret, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (user_id) DO UPDATE
            SET id = excluded.id, secret = excluded.secret,
                created_at = excluded.created_at, expires_at = excluded.expires_at",
    )
    .bind(enrollment_id)
    .bind(claims.tid)
    .bind(claims.sub)
    .bind(&sealed)
    .bind(now)
    .bind(now + TimeDelta::seconds(ENROLLMENT_TTL_SECS))
    .execute(&mut *tx)
    .await?;
    let issuer = ctx.config().totp_issuer.clone().unwrap_or(tenant_name);
    tracing::info!(user_id = %claims.sub, %enrollment_id, "TOTP enrollment started");
    Ok(TotpEnrollReply {
        enrollment_id,
        secret: Secret::new(secret.base32()),
        otpauth_uri: Secret::new(secret.otpauth_uri(&issuer, &email)),
    })
}

/// Handles `auth.mfa.totp.confirm`.
pub async fn confirm(ctx: Ctx, request: TotpConfirmRequest) -> Result<RecoveryCodesReply, Error> {
    let claims = ctx.claims()?.clone();
    let kek = Kek::of(ctx.app()).map_err(Error::internal)?;
    let mut tx = ctx.tx().await?;
    let enabled: Option<bool> =
        sqlx::query_scalar("SELECT mfa_enabled FROM users WHERE id = $1 FOR UPDATE")
            .bind(claims.sub)
            .fetch_optional(&mut *tx)
            .await?;
    if enabled.ok_or_else(|| Error::new(ErrorCode::Unauthenticated))? {
        return Err(already_on());
    }
    let now = ctx.now();
    let sealed: Option<Vec<u8>> = sqlx::query_scalar(
        "SELECT secret FROM totp_enrollments WHERE id = $1 AND user_id = $2 AND expires_at > $3",
    )
    .bind(request.enrollment_id)
    .bind(claims.sub)
    .bind(now)
    .fetch_optional(&mut *tx)
    .await?;
    let sealed = sealed.ok_or_else(|| {
        Error::not_found("no such enrollment, or it expired: enroll again")
            .with_detail("field", "enrollment_id")
    })?;
    let secret = totp::Secret::open(&kek, claims.sub, &sealed)?;
    let Some(step) = secret.accepts(request.code.expose(), now, None) else {
        tracing::info!(user_id = %claims.sub, "a TOTP enrollment's confirmation had a wrong code");
        return Err(Error::new(ErrorCode::InvalidCredentials).with_message(
            "the code does not match: check the authenticator's clock and try the next code",
        ));
    };
    sqlx::query(
        "UPDATE users SET totp_secret = $2, mfa_enabled = true, totp_last_step = $3, updated_at = $4
          WHERE id = $1",
    )
    .bind(claims.sub)
    .bind(&sealed)
    .bind(step)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    sqlx::query("DELETE FROM totp_enrollments WHERE user_id = $1")
        .bind(claims.sub)
        .execute(&mut *tx)
        .await?;
    let recovery_codes = super::replace_recovery_codes(&kek, &mut tx, claims.sub).await?;
    let reason = data::RevocationReason::MfaEnabled;
    let revoked = sessions::revoke_all_but(&mut tx, claims.sub, Some(claims.sid), reason).await?;
    let enabled = data::UserMfaEnabled {
        user_id: claims.sub,
        recovery_codes: recovery_codes::COUNT as u32,
        sessions_revoked: revoked.len() as u64,
    };
    tx.emit(claims.sub, &enabled).await?;
    tracing::info!(user_id = %claims.sub, revoked = revoked.len(), "TOTP turned on");
    ctx.announce_revoked(revoked);
    Ok(RecoveryCodesReply { recovery_codes })
}
