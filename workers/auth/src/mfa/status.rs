//! `auth.mfa.status`: whether the caller has TOTP on, and how many recovery
//! codes they have left.

use olympus_contracts::auth::MfaStatusReply;
use olympus_contracts::shapes::Empty;
use olympus_contracts::ErrorCode;
use olympus_runtime::{Ctx, Error};

/// Handles `auth.mfa.status`.
pub async fn status(ctx: Ctx, _: Empty) -> Result<MfaStatusReply, Error> {
    let user_id = ctx.claims()?.sub;
    let mut tx = ctx.tx().await?;
    let row: Option<(bool, i64)> = sqlx::query_as(
        "SELECT u.mfa_enabled,
                (SELECT count(*) FROM recovery_codes r
                  WHERE r.user_id = u.id AND r.used_at IS NULL)
           FROM users u WHERE u.id = $1",
    )
    .bind(user_id)
    .fetch_optional(&mut *tx)
    .await?;
    let (totp, left) = row.ok_or_else(|| Error::new(ErrorCode::Unauthenticated))?;
    Ok(MfaStatusReply {
        totp,
        recovery_codes_left: u32::try_from(left).unwrap_or(u32::MAX),
    })
}
