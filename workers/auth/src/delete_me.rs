//! `auth.delete_me`: a user erases their account and their personal data
//! in this tenant (contract §5, revision 3; GDPR article 17).
//!
//! The request gives the password and, when TOTP is on, a `code` (a TOTP
//! code or a recovery code); both count toward the lockout when wrong, as
//! in `mfa.disable`. The last owner of a tenant is refused
//! (`invalid_state`, `last_owner`): a tenant always keeps an owner.
//!
//! One transaction locks the user's row (and, for an owner, the tenant's
//! owners', in id order as `tenant.members.*` lock them), reads whether
//! TOTP is on under that lock, checks the code there when it is, and
//! erases, so that TOTP turned on meanwhile still asks for a code and a
//! wrong code's count commits whatever becomes of the request:
//! - every live session is revoked (`session.revoked`, reason
//!   `user_deleted`): each process refuses their tokens at once, or within
//!   a poll when it missed the broadcast, since the revoked rows stay
//!   (without their address or agent) until they are pruned;
//! - `olympus_erase_person` (migration 0028) takes the person out of every
//!   row of the tenant: the account and everything that hangs off it
//!   (secrets, codes, tokens, email changes) are deleted; orders keep
//!   `customer_id` and lose their addresses and contact phone; the mail not
//!   yet sent to them and their finished invitations are deleted; stored
//!   events (the outbox, dead letters, the audit log) and other callers'
//!   stored replies about the person lose their personal fields; the
//!   person's own stored replies are deleted;
//! - `user.deleted` is recorded, with ids and counts only.
//!
//! The address is free again: it may register as a new account. Events
//! already published keep what they carried, for as long as the stream
//! keeps them (`OLYMPUS_EVENTS_MAX_AGE`, docs/operations.md).

use olympus_contracts::auth::DeleteMeRequest;
use olympus_contracts::event::data;
use olympus_contracts::shapes::{Empty, Role};
use olympus_contracts::ErrorCode;
use olympus_runtime::error::Validation;
use olympus_runtime::{Ctx, Error, Tx};
use uuid::Uuid;

use crate::keys::Kek;
use crate::mfa::factor::{self, Checked, Factor};
use crate::{lockout, mfa, sessions};

/// Handles `auth.delete_me`.
pub async fn delete_me(ctx: Ctx, request: DeleteMeRequest) -> Result<Empty, Error> {
    let claims = ctx.claims()?.clone();
    let factor = request.code.as_ref().map(Factor::of_code);
    // Asked before the password costs a try; asked again under the lock.
    if factor.is_none() && mfa::enabled(&ctx).await? {
        return Err(code_required());
    }
    let owner = ctx.caller().await?.role == Role::Owner;
    let slot = crate::hashing::passwords(ctx.app())?.admit(ctx.party())?;
    lockout::confirm_password(&ctx, &slot, &request.password).await?;
    let outcome = ctx
        .apart(Some(claims.tid), async |tx| {
            let locked = lock(tx, claims.sub, owner).await?;
            if locked.mfa_enabled {
                let Some(factor) = factor else {
                    return Err(code_required());
                };
                let kek = Kek::of(ctx.app()).map_err(Error::internal)?;
                match factor::check(ctx.app(), &kek, tx, claims.sub, factor).await? {
                    Checked::Right => {}
                    refused => return Ok(Err(refused)),
                }
            }
            if locked.last_owner {
                return Err(Error::invalid_state(
                    "last_owner",
                    "the last owner cannot delete their account: make another member an owner first",
                ));
            }
            erase(tx, claims.sub).await.map(Ok)
        })
        .await?;
    let erased = outcome.map_err(|checked| {
        tracing::info!(user_id = %claims.sub, ?checked, "deleting the account: the code was refused");
        Error::new(ErrorCode::InvalidCredentials)
    })?;
    ctx.app().announce_revoked(&erased.revoked).await;
    tracing::info!(
        user_id = %claims.sub,
        sessions_revoked = erased.revoked.len(),
        orders_kept = erased.orders_kept,
        "account deleted; its personal data erased"
    );
    Ok(Empty {})
}

fn code_required() -> Error {
    Validation::failed(
        "code",
        ["is required while TOTP is on: a TOTP code or a recovery code"],
    )
}

/// The caller's row as the lock finds it.
struct Locked {
    mfa_enabled: bool,
    /// An owner, and no other owner is left.
    last_owner: bool,
}

/// Takes `user_id`'s gate, locks their row and, when they are (or, read before, were
/// thought to be) an owner, every owner's, in id order, as
/// `tenant.members.set_role` and `remove` lock them: a concurrent demotion
/// or removal of the other owner cannot leave the tenant without one, and
/// the two cannot deadlock. A member's deletion locks no one else's row.
async fn lock(tx: &mut Tx<'_>, user_id: Uuid, owner: bool) -> Result<Locked, Error> {
    // First the person's gate: their orders in flight commit before the
    // erasure reads, and later ones find them gone (migration 0028).
    sqlx::query("SELECT olympus_person_gate($1)")
        .bind(user_id)
        .execute(&mut **tx)
        .await?;
    let statement = "SELECT id, role, mfa_enabled FROM users
                      WHERE id = $1 OR ($2 AND role = 'owner') ORDER BY id FOR UPDATE";
    let mut rows: Vec<(Uuid, String, bool)> = sqlx::query_as(statement)
        .bind(user_id)
        .bind(owner)
        .fetch_all(&mut **tx)
        .await?;
    let is_owner = |rows: &[(Uuid, String, bool)]| {
        rows.iter()
            .any(|(id, role, _)| *id == user_id && role == Role::Owner.as_str())
    };
    if !owner && is_owner(&rows) {
        // Made an owner since the role was read: the owners too, now.
        rows = sqlx::query_as(statement)
            .bind(user_id)
            .bind(true)
            .fetch_all(&mut **tx)
            .await?;
    }
    let Some((_, _, mfa_enabled)) = rows.iter().find(|(id, _, _)| *id == user_id) else {
        return Err(Error::new(ErrorCode::Unauthenticated));
    };
    let owners = rows
        .iter()
        .filter(|(_, role, _)| role == Role::Owner.as_str())
        .count();
    Ok(Locked {
        mfa_enabled: *mfa_enabled,
        last_owner: is_owner(&rows) && owners == 1,
    })
}

/// What an erasure did.
struct Erased {
    revoked: Vec<Uuid>,
    orders_kept: i64,
}

/// Erases `user_id`, locked, in `tx` (see [the module](self)).
async fn erase(tx: &mut Tx<'_>, user_id: Uuid) -> Result<Erased, Error> {
    let reason = data::RevocationReason::UserDeleted;
    let revoked = sessions::revoke_all(tx, user_id, reason).await?;
    let orders_kept: i64 = sqlx::query_scalar("SELECT olympus_erase_person($1)")
        .bind(user_id)
        .fetch_one(&mut **tx)
        .await?;
    let deleted = data::UserDeleted {
        user_id,
        sessions_revoked: revoked.len() as u64,
        orders_kept: orders_kept as u64,
    };
    tx.emit(user_id, &deleted).await?;
    Ok(Erased {
        revoked,
        orders_kept,
    })
}
