//! `auth.mfa.disable`: turns TOTP off, with the password and a code (TOTP
//! or recovery code). Both count toward the lockout when wrong; a right
//! password gives its try back rather than clearing the count, which only
//! the right code does ([`crate::lockout`]). The secret, the recovery
//! codes, any pending enrollment and any login's challenge are erased, and every other session of
//! the user is revoked (`user.mfa_disabled`, `session.revoked`). Nothing
//! is mailed.

use olympus_contracts::auth::MfaDisableRequest;
use olympus_contracts::event::data;
use olympus_contracts::shapes::Empty;
use olympus_runtime::{Ctx, Error};

use super::factor::{self, Factor};
use crate::keys::Kek;
use crate::lockout;
use crate::sessions;

/// Handles `auth.mfa.disable`.
pub async fn disable(ctx: Ctx, request: MfaDisableRequest) -> Result<Empty, Error> {
    let claims = ctx.claims()?.clone();
    let factor = Factor::one_of(request.code.as_ref(), request.recovery_code.as_ref())?;
    let kek = Kek::of(ctx.app()).map_err(Error::internal)?;
    super::require_enabled(&ctx).await?;
    let slot = crate::hashing::passwords(ctx.app())?.admit(ctx.party())?;
    lockout::confirm_password(&ctx, &slot, &request.password).await?;
    let revoked = factor::spend(&ctx, &kek, factor, "turning TOTP off", async |tx| {
        sqlx::query(
            "UPDATE users SET totp_secret = NULL, mfa_enabled = false, totp_last_step = NULL,
                              updated_at = $2
              WHERE id = $1",
        )
        .bind(claims.sub)
        .bind(tx.now())
        .execute(&mut **tx)
        .await?;
        for table in ["recovery_codes", "totp_enrollments", "mfa_challenges"] {
            sqlx::query(&format!("DELETE FROM {table} WHERE user_id = $1"))
                .bind(claims.sub)
                .execute(&mut **tx)
                .await?;
        }
        let reason = data::RevocationReason::MfaDisabled;
        let revoked = sessions::revoke_all_but(tx, claims.sub, Some(claims.sid), reason).await?;
        let disabled = data::UserMfaDisabled {
            user_id: claims.sub,
            sessions_revoked: revoked.len() as u64,
        };
        tx.emit(claims.sub, &disabled).await?;
        Ok(revoked)
    })
    .await?;
    tracing::info!(user_id = %claims.sub, revoked = revoked.len(), "TOTP turned off");
    ctx.app().announce_revoked(&revoked).await;
    Ok(Empty {})
}
