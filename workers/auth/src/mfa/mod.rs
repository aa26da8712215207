//! Multi-factor login (contract §5, revision 3): TOTP authenticators and
//! recovery codes.
//!
//! - [`totp`]: codes (RFC 6238) and secrets, sealed at rest;
//! - [`recovery_codes`]: ten single-use codes, stored as keyed hashes;
//! - [`factor`]: checking a code against the account's lockout budget;
//! - [`challenge`]: what `auth.login` gives a user with TOTP after the
//!   right password, and `auth.login_mfa` ([`crate::login_mfa`]) redeems;
//! - the operations: [`status`] (`mfa.status`), [`enroll`]
//!   (`mfa.totp.enroll`, `mfa.totp.confirm`), [`disable`] (`mfa.disable`),
//!   [`regenerate`] (`mfa.recovery_codes.regenerate`).
//!
//! Operations that check a code change what the code unlocks in the
//! transaction that checked it, apart from the request's (`Ctx::apart`),
//! because a wrong code's count must be kept when the request fails:
//! [`factor::spend`].

pub mod challenge;
pub mod disable;
pub mod enroll;
pub mod factor;
pub mod recovery_codes;
pub mod regenerate;
pub mod status;
pub mod totp;

use olympus_runtime::{Ctx, Error, Tx};
use uuid::Uuid;

use crate::keys::Kek;

/// `methods` of a challenge.
pub const METHODS: [&str; 2] = ["totp", "recovery_code"];

/// Replaces the recovery codes of `user_id` by a new set, in `tx`; the
/// codes to show once.
pub async fn replace_recovery_codes(
    kek: &Kek,
    tx: &mut Tx<'_>,
    user_id: Uuid,
) -> Result<Vec<olympus_contracts::Secret>, Error> {
    let tenant_id = tx.tenant()?;
    let new = recovery_codes::generate(kek, user_id);
    sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
        .bind(user_id)
        .execute(&mut **tx)
        .await?;
    sqlx::query(
        "INSERT INTO recovery_codes (tenant_id, user_id, hash)
         SELECT $1, $2, unnest($3::bytea[])",
    )
    .bind(tenant_id)
    .bind(user_id)
    .bind(&new.hashes)
    .execute(&mut **tx)
    .await?;
    Ok(new.codes)
}

/// Whether the caller has TOTP on, read apart from the request's
/// transaction (an operation that needs a code checks this first);
/// `unauthenticated` when the user is gone.
pub async fn enabled(ctx: &Ctx) -> Result<bool, Error> {
    let claims = ctx.claims()?;
    let enabled: Option<bool> = ctx
        .apart(Some(claims.tid), async |tx| {
            Ok(
                sqlx::query_scalar("SELECT mfa_enabled FROM users WHERE id = $1")
                    .bind(claims.sub)
                    .fetch_optional(&mut **tx)
                    .await?,
            )
        })
        .await?;
    enabled.ok_or_else(|| Error::new(olympus_contracts::ErrorCode::Unauthenticated))
}

/// `invalid_state` (`mfa_not_enabled`) unless the caller has TOTP on
/// ([`enabled`]).
pub async fn require_enabled(ctx: &Ctx) -> Result<(), Error> {
    if enabled(ctx).await? {
        Ok(())
    } else {
        Err(Error::invalid_state(
            "mfa_not_enabled",
            "TOTP is not on: enroll with auth.mfa.totp.enroll first",
        ))
    }
}
