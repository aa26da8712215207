//! `auth.delete_me`: a user erases their account and their personal data
//! in this tenant (contract §5, revision 3; GDPR article 17).
//!
//! The request gives the password and, when TOTP is on, a `code` (a TOTP
//! code or a recovery code); both count toward the lockout when wrong, as
//! in `mfa.disable`. The last owner of a tenant is refused
//! (`invalid_state`, `last_owner`): a tenant always keeps an owner.
//!
//! In one transaction, with the code spent when one was needed:
//! - every live session is revoked (`session.revoked`, reason
//!   `user_deleted`): each process refuses their tokens at once, or within
//!   a poll when it missed the broadcast, since the revoked rows stay
//!   (without their address or agent) until they are pruned;
//! - `olympus_erase_person` (migration 0028) takes the person out of every
//!   row of the tenant: the account and everything that hangs off it
//!   (secrets, codes, tokens, email changes) are deleted; orders keep
//!   `customer_id` and lose their addresses and contact phone; the mail not
//!   yet sent to any of the person's addresses, their invitations and the
//!   mail limit's log of those addresses are deleted; stored events (the
//!   outbox, dead letters, the audit log) and other callers' stored replies
//!   about the person lose their personal fields; the person's own stored
//!   replies are deleted;
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
use crate::mfa::{self, factor, factor::Factor};
use crate::{lockout, sessions};

/// Handles `auth.delete_me`.
pub async fn delete_me(ctx: Ctx, request: DeleteMeRequest) -> Result<Empty, Error> {
    let user_id = ctx.claims()?.sub;
    let factor = match (mfa::enabled(&ctx).await?, request.code.as_ref()) {
        (true, None) => {
            return Err(Validation::failed(
                "code",
                ["is required while TOTP is on: a TOTP code or a recovery code"],
            ))
        }
        (true, Some(code)) => Some(Factor::of_code(code)),
        (false, _) => None,
    };
    let slot = crate::hashing::passwords(ctx.app())?.admit()?;
    lockout::confirm_password(&ctx, &slot, &request.password).await?;
    let erased = match factor {
        Some(factor) => {
            let kek = Kek::of(ctx.app()).map_err(Error::internal)?;
            let erased = factor::spend(&ctx, &kek, factor, "deleting the account", async |tx| {
                erase(tx, user_id).await
            })
            .await?;
            ctx.app().announce_revoked(&erased.revoked).await;
            erased
        }
        None => {
            let erased = erase(&mut ctx.tx().await?, user_id).await?;
            ctx.announce_revoked(erased.revoked.clone());
            erased
        }
    };
    tracing::info!(
        %user_id,
        sessions_revoked = erased.revoked.len(),
        orders_kept = erased.orders_kept,
        "account deleted; its personal data erased"
    );
    Ok(Empty {})
}

/// What an erasure did.
struct Erased {
    revoked: Vec<Uuid>,
    orders_kept: i64,
}

/// Erases `user_id` in `tx` (see [the module](self)).
async fn erase(tx: &mut Tx<'_>, user_id: Uuid) -> Result<Erased, Error> {
    // The user and the tenant's owners, locked in id order, as
    // `tenant.members.remove` locks them: a concurrent demotion or removal
    // of the other owner cannot leave the tenant without one.
    let rows: Vec<(Uuid, String)> = sqlx::query_as(
        "SELECT id, role FROM users WHERE id = $1 OR role = 'owner' ORDER BY id FOR UPDATE",
    )
    .bind(user_id)
    .fetch_all(&mut **tx)
    .await?;
    let Some((_, role)) = rows.iter().find(|(id, _)| *id == user_id) else {
        return Err(Error::new(ErrorCode::Unauthenticated));
    };
    let owners = rows.iter().filter(|(_, r)| r == Role::Owner.as_str());
    if role == Role::Owner.as_str() && owners.count() == 1 {
        return Err(Error::invalid_state(
            "last_owner",
            "the last owner cannot delete their account: make another member an owner first",
        ));
    }
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
