//! `tenant.members.list`, `members.set_role` and `members.remove`.
//!
//! A tenant always keeps an owner: demoting or removing the last one is
//! `invalid_state` (`details.state: last_owner`). Changes that could take
//! the last owner away lock the member and the tenant's owner rows in one
//! statement, in id order, so two concurrent demotions of two owners cannot
//! both pass, nor deadlock.

use olympus_auth::sessions;
use olympus_auth::users::{UserRow, USER_COLUMNS};
use olympus_contracts::auth::UserReply;
use olympus_contracts::event::data::{self, RevocationReason};
use olympus_contracts::shapes::Empty;
use olympus_contracts::shapes::{Page, PageRequest, Role, User};
use olympus_contracts::tenant::{RemoveMemberRequest, SetRoleRequest};
use olympus_contracts::ErrorCode;
use olympus_runtime::pages::Pager;
use olympus_runtime::{Ctx, Error};
use sqlx::PgConnection;
use uuid::Uuid;

/// Handles `tenant.members.list`: members by id (creation order).
pub async fn list(ctx: Ctx, page: PageRequest) -> Result<Page<User>, Error> {
    let operation = &ctx.request().operation;
    let pager = Pager::new(
        operation,
        ctx.claims()?.tid,
        "",
        page.limit,
        page.cursor.as_deref(),
    )?;
    let rows: Vec<UserRow> = sqlx::query_as(&format!(
        "SELECT {USER_COLUMNS} FROM users WHERE id > $1 ORDER BY id LIMIT $2"
    ))
    .bind(pager.after())
    .bind(pager.fetch())
    .fetch_all(&mut *ctx.tx().await?)
    .await?;
    pager.page_of(rows, UserRow::into_user, |u| u.id)
}

/// Handles `tenant.members.set_role` (owners only).
pub async fn set_role(ctx: Ctx, request: SetRoleRequest) -> Result<UserReply, Error> {
    let SetRoleRequest { user_id, role } = request;
    let mut tx = ctx.tx().await?;
    let (target, owners) = lock_member(&mut tx, user_id).await?;
    let from = target.role;
    if from == role {
        return Ok(UserReply { user: target });
    }
    if from == Role::Owner {
        keep_an_owner(&owners, user_id, "demoted")?;
    }
    let row: UserRow = sqlx::query_as(&format!(
        "UPDATE users SET role = $2, updated_at = $3 WHERE id = $1 RETURNING {USER_COLUMNS}"
    ))
    .bind(user_id)
    .bind(role.as_str())
    .bind(ctx.now())
    .fetch_one(&mut *tx)
    .await?;
    let user = row.into_user()?;
    let changed = data::MemberRoleChanged {
        user_id,
        from,
        to: role,
    };
    tx.emit(user_id, &changed).await?;
    tracing::info!(%user_id, from = from.as_str(), to = role.as_str(), "role changed");
    Ok(UserReply { user })
}

/// Handles `tenant.members.remove` (owners and admins; only owners remove
/// owners). The member's sessions end at once, everywhere.
pub async fn remove(ctx: Ctx, request: RemoveMemberRequest) -> Result<Empty, Error> {
    let user_id = request.user_id;
    let mut tx = ctx.tx().await?;
    let (target, owners) = lock_member(&mut tx, user_id).await?;
    if target.role == Role::Owner {
        let caller = ctx.caller().await?;
        if caller.role != Role::Owner {
            return Err(
                Error::new(ErrorCode::Forbidden).with_message("only an owner may remove an owner")
            );
        }
        keep_an_owner(&owners, user_id, "removed")?;
    }
    let revoked = sessions::revoke_all(&mut tx, user_id, RevocationReason::MemberRemoved).await?;
    sqlx::query("DELETE FROM users WHERE id = $1")
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    let removed = data::MemberRemoved {
        user_id,
        email: Some(target.email),
    };
    tx.emit(user_id, &removed).await?;
    tracing::info!(%user_id, sessions = revoked.len(), "member removed");
    ctx.announce_revoked(revoked);
    Ok(Empty {})
}

/// The member `user_id` and the ids of the tenant's owners, all locked
/// for the rest of the transaction in one statement, in id order (so
/// concurrent changes cannot deadlock); `not_found` when the tenant has no
/// such member. The owners by `users_owners_idx` (migration 0039), then
/// every row by its key: `id = $1 OR role = 'owner'` read all of the
/// tenant's members (40 ms in a tenant of 100,000). (The ids are one
/// array of a subquery: under row-level security `||` is no index
/// condition, not being leakproof.) A row whose role changed while this
/// waited for its lock comes back as it is now.
async fn lock_member(conn: &mut PgConnection, user_id: Uuid) -> Result<(User, Vec<Uuid>), Error> {
    let rows: Vec<UserRow> = sqlx::query_as(&format!(
        "SELECT {USER_COLUMNS} FROM users
          WHERE id = ANY (ARRAY(SELECT id FROM users WHERE role = 'owner' UNION ALL SELECT $1))
          ORDER BY id FOR UPDATE"
    ))
    .bind(user_id)
    .fetch_all(conn)
    .await?;
    let owners = rows
        .iter()
        .filter(|r| r.role == Role::Owner.as_str())
        .map(|r| r.id)
        .collect();
    let target = rows
        .into_iter()
        .find(|r| r.id == user_id)
        .ok_or_else(|| Error::not_found("no such member"))?
        .into_user()?;
    Ok((target, owners))
}

/// Fails with `invalid_state` unless an owner other than `user_id` stays.
fn keep_an_owner(owners: &[Uuid], user_id: Uuid, what: &str) -> Result<(), Error> {
    if owners.iter().all(|&id| id == user_id) {
        return Err(Error::invalid_state(
            "last_owner",
            format!("the last owner cannot be {what}"),
        ));
    }
    Ok(())
}
