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
use olympus_runtime::outbox::Event;
use olympus_runtime::pages::Pager;
use olympus_runtime::{App, Call, Error};
use sqlx::PgConnection;
use uuid::Uuid;

/// Handles `tenant.members.list`: members by id (creation order).
pub async fn list(app: App, call: Call<PageRequest>) -> Result<Page<User>, Error> {
    let claims = call.meta.claims()?;
    let page = call.body;
    let pager = Pager::new(
        &call.meta,
        claims.tid,
        "",
        page.limit,
        page.cursor.as_deref(),
    )?;
    let mut tx = app.db().tenant(claims.tid).await?;
    let rows: Vec<UserRow> = sqlx::query_as(&format!(
        "SELECT {USER_COLUMNS} FROM users WHERE id > $1 ORDER BY id LIMIT $2"
    ))
    .bind(pager.after())
    .bind(pager.fetch())
    .fetch_all(&mut *tx)
    .await?;
    olympus_runtime::db::commit(tx).await?;
    pager.page_of(rows, UserRow::into_user, |u| u.id)
}

/// Handles `tenant.members.set_role` (owners only).
pub async fn set_role(app: App, call: Call<SetRoleRequest>) -> Result<UserReply, Error> {
    let claims = call.meta.claims()?;
    let SetRoleRequest { user_id, role } = call.body;
    let mut tx = app.db().tenant(claims.tid).await?;
    let (target, owners) = lock_member(&mut tx, user_id).await?;
    let from = target.role;
    if from == role {
        olympus_runtime::db::commit(tx).await?;
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
    .bind(app.now())
    .fetch_one(&mut *tx)
    .await?;
    let user = row.into_user()?;
    app.events(&call.meta)
        .actor(claims.sub)
        .emit(
            &mut tx,
            Event::new(
                claims.tid,
                user_id,
                &data::MemberRoleChanged {
                    user_id,
                    from,
                    to: role,
                },
            ),
        )
        .await?;
    olympus_runtime::db::commit(tx).await?;
    tracing::info!(%user_id, from = from.as_str(), to = role.as_str(), "role changed");
    Ok(UserReply { user })
}

/// Handles `tenant.members.remove` (owners and admins; only owners remove
/// owners). The member's sessions end at once, everywhere.
pub async fn remove(app: App, call: Call<RemoveMemberRequest>) -> Result<Empty, Error> {
    let claims = call.meta.claims()?;
    let user_id = call.body.user_id;
    let mut tx = app.db().tenant(claims.tid).await?;
    let (target, owners) = lock_member(&mut tx, user_id).await?;
    if target.role == Role::Owner {
        let caller = call.meta.caller(&app).await?;
        if caller.role != Role::Owner {
            return Err(
                Error::new(ErrorCode::Forbidden).with_message("only an owner may remove an owner")
            );
        }
        keep_an_owner(&owners, user_id, "removed")?;
    }
    let now = app.now();
    let events = app.events(&call.meta).actor(claims.sub);
    let revoked = sessions::revoke_all(
        &mut tx,
        &events,
        (claims.tid, user_id),
        now,
        RevocationReason::MemberRemoved,
    )
    .await?;
    sqlx::query("DELETE FROM users WHERE id = $1")
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    events
        .emit(
            &mut tx,
            Event::new(
                claims.tid,
                user_id,
                &data::MemberRemoved {
                    user_id,
                    email: target.email,
                },
            ),
        )
        .await?;
    olympus_runtime::db::commit(tx).await?;
    app.announce_revoked(&revoked).await;
    tracing::info!(%user_id, sessions = revoked.len(), "member removed");
    Ok(Empty {})
}

/// The member `user_id` and the ids of the tenant's owners, all locked
/// for the rest of the transaction in one statement, in id order (so
/// concurrent changes cannot deadlock); `not_found` when the tenant has no
/// such member.
async fn lock_member(conn: &mut PgConnection, user_id: Uuid) -> Result<(User, Vec<Uuid>), Error> {
    let rows: Vec<UserRow> = sqlx::query_as(&format!(
        "SELECT {USER_COLUMNS} FROM users WHERE id = $1 OR role = 'owner' ORDER BY id FOR UPDATE"
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
