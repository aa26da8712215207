//! `auth.mfa.recovery_codes.regenerate`: a fresh TOTP code for ten new
//! recovery codes; the old ones stop working. A wrong code counts toward
//! the lockout (a stolen access token must not guess its way to recovery
//! codes) and is `invalid_credentials`.

use olympus_contracts::auth::{RecoveryCodesReply, RegenerateRecoveryCodesRequest};
use olympus_contracts::event::data;
use olympus_runtime::{Ctx, Error};

use super::factor::{self, Factor};
use super::recovery_codes;
use crate::keys::Kek;

/// Handles `auth.mfa.recovery_codes.regenerate`.
pub async fn regenerate(
    ctx: Ctx,
    request: RegenerateRecoveryCodesRequest,
) -> Result<RecoveryCodesReply, Error> {
    let user_id = ctx.claims()?.sub;
    let kek = Kek::of(ctx.app()).map_err(Error::internal)?;
    super::require_enabled(&ctx).await?;
    let factor = Factor::Totp(&request.code);
    let recovery_codes = factor::spend(
        &ctx,
        &kek,
        factor,
        "regenerating recovery codes",
        async |tx| {
            let codes = super::replace_recovery_codes(&kek, tx, user_id).await?;
            let regenerated = data::UserRecoveryCodesRegenerated {
                user_id,
                recovery_codes: recovery_codes::COUNT as u32,
            };
            tx.emit(user_id, &regenerated).await?;
            Ok(codes)
        },
    )
    .await?;
    tracing::info!(%user_id, "recovery codes regenerated");
    Ok(RecoveryCodesReply { recovery_codes })
}
