//! Who may call an operation: the catalog says ([`Who`]), the runtime checks
//! before the handler runs.
//!
//! Any member passes with a valid access token: a removed member's sessions
//! are revoked (see [`crate::revocation`]). Anything more (admin, owner,
//! platform administrator) is checked against the caller's **current**
//! role, read when the request arrives in one round trip through the
//! `olympus_member` function: a demoted admin loses admin rights on the next
//! request, not when their token expires.
//!
//! A tenant that requires MFA ([`second_factor`]) confines tokens of a
//! login without a second factor (`amr` without `otp`) to the operations
//! that let its member enroll; which tenants do is known in memory with the
//! revocations, so this costs no round trip either.

use olympus_contracts::operation::{Operation, Who};
use olympus_contracts::shapes::Role;
use olympus_contracts::ErrorCode;

use crate::db::Db;
use crate::error::Error;
use crate::revocation::Revocations;
use crate::tokens::{Claims, AMR_OTP};

/// The caller as the database knows them now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caller {
    pub role: Role,
    /// Whether their tenant is the reserved tenant `platform`.
    pub in_platform_tenant: bool,
}

impl Caller {
    /// Whether they are a platform administrator (owner or admin of
    /// `platform`).
    pub fn is_platform_admin(&self) -> bool {
        Who::PlatformAdmin.allows(self.role, self.in_platform_tenant)
    }
}

/// Reads the caller's current role; `unauthenticated` when the user no
/// longer exists.
pub async fn current(db: &Db, claims: &Claims) -> Result<Caller, Error> {
    let row: Option<(String, bool)> =
        sqlx::query_as("SELECT role, platform FROM olympus_member($1, $2)")
            .bind(claims.tid)
            .bind(claims.sub)
            .fetch_optional(db.app_pool())
            .await?;
    let (role, in_platform_tenant) = row.ok_or_else(|| {
        tracing::debug!(user_id = %claims.sub, "access token of a user that no longer exists");
        Error::new(ErrorCode::Unauthenticated)
    })?;
    let role = Role::parse(&role)
        .ok_or_else(|| Error::internal(anyhow::anyhow!("user {} has role {role:?}", claims.sub)))?;
    Ok(Caller {
        role,
        in_platform_tenant,
    })
}

/// Checks `who` for the caller of `claims`: `None` when membership is
/// enough (no round trip), the current caller when more was needed and
/// they have it, `forbidden` when they do not.
pub async fn check(db: &Db, who: Who, claims: &Claims) -> Result<Option<Caller>, Error> {
    if matches!(who, Who::Anyone | Who::Member) {
        return Ok(None);
    }
    let caller = current(db, claims).await?;
    if !who.allows(caller.role, caller.in_platform_tenant) {
        let needed = match who {
            Who::Owner => "an owner",
            Who::PlatformAdmin => "a platform administrator",
            _ => "an owner or admin",
        };
        return Err(
            Error::new(ErrorCode::Forbidden).with_message(format!("only {needed} may do this"))
        );
    }
    Ok(Some(caller))
}

/// Checks that the caller of `claims` may reach `operation` with the second
/// factor their login gave: `forbidden` with `details.reason:
/// "mfa_required"` when their tenant requires MFA, their token's login gave
/// no code, and the operation is not one that lets them enroll
/// ([`Operation::reachable_without_mfa`]). Applies to tokens issued before
/// the tenant turned the requirement on, too.
pub fn second_factor(
    revocations: &Revocations,
    operation: &Operation,
    claims: &Claims,
) -> Result<(), Error> {
    if operation.reachable_without_mfa()
        || claims.amr.iter().any(|m| m == AMR_OTP)
        || !revocations.requires_mfa(claims.tid)
    {
        return Ok(());
    }
    tracing::debug!(user_id = %claims.sub, "refused: the tenant requires MFA and the login gave no code");
    Err(Error::new(ErrorCode::Forbidden)
        .with_message(
            "your tenant requires a second factor: set up TOTP (auth.mfa.totp.enroll, \
             auth.mfa.totp.confirm) and log in again",
        )
        .with_detail("reason", "mfa_required"))
}
