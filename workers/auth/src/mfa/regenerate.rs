//! `auth.mfa.recovery_codes.regenerate`: a fresh TOTP code for ten new
//! recovery codes; the old ones stop working. A wrong code counts toward
//! the lockout (a stolen access token must not guess its way to recovery
//! codes) and is `invalid_credentials`.

use olympus_contracts::auth::{RecoveryCodesReply, RegenerateRecoveryCodesRequest};
use olympus_contracts::event::data;
use olympus_contracts::ErrorCode;
use olympus_runtime::{Ctx, Error};

use super::factor::{self, Checked, Factor};
use super::recovery_codes;
use crate::keys::Kek;

/// Handles `auth.mfa.recovery_codes.regenerate`.
pub async fn regenerate(
    ctx: Ctx,
    request: RegenerateRecoveryCodesRequest,
) -> Result<RecoveryCodesReply, Error> {
    let claims = ctx.claims()?.clone();
    let kek = Kek::of(ctx.app()).map_err(Error::internal)?;
    let outcome = ctx
        .apart(Some(claims.tid), async |tx| {
            if !super::enabled(tx, claims.sub).await? {
                return Ok(Err(None));
            }
            let factor = Factor::Totp(&request.code);
            match factor::check(ctx.app(), &kek, tx, claims.sub, factor).await? {
                Checked::Right => {}
                checked => return Ok(Err(Some(checked))),
            }
            let codes = super::replace_recovery_codes(&kek, tx, claims.sub).await?;
            let regenerated = data::UserRecoveryCodesRegenerated {
                user_id: claims.sub,
                recovery_codes: recovery_codes::COUNT as u32,
            };
            tx.emit(claims.sub, &regenerated).await?;
            Ok(Ok(codes))
        })
        .await?;
    match outcome {
        Ok(recovery_codes) => {
            tracing::info!(user_id = %claims.sub, "recovery codes regenerated");
            Ok(RecoveryCodesReply { recovery_codes })
        }
        Err(None) => Err(super::not_enabled()),
        Err(Some(checked)) => {
            tracing::info!(user_id = %claims.sub, ?checked, "regenerating recovery codes: the code was refused");
            Err(Error::new(ErrorCode::InvalidCredentials))
        }
    }
}
