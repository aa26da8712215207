//! `tenant.members.invite`, `members.invitations.list` and
//! `members.invitations.revoke` (owners and admins).
//!
//! `members.invite` is idempotent with an `Idempotency-Key` (contract §6):
//! it works in the request's transaction, which the runtime commits with
//! the stored reply. Admins invite members; only owners invite admins, so that an admin
//! cannot mint peers beyond what an owner decided. Nobody is invited as
//! owner: owners promote members with `members.set_role`. The token and
//! mail are the auth worker's ([`olympus_auth::invitations`]), which also
//! redeems them (`auth.accept_invite`).

use olympus_auth::email::Email;
use olympus_auth::invitations::{self, InvitationRow, INVITATION_COLUMNS};
use olympus_contracts::event::data;
use olympus_contracts::shapes::{Empty, Invitation, Page, PageRequest, Role};
use olympus_contracts::tenant::{InvitationReply, InviteRequest, RevokeInvitationRequest};
use olympus_contracts::ErrorCode;
use olympus_runtime::error::Validation;
use olympus_runtime::pages::Pager;
use olympus_runtime::{Ctx, Error};

/// Handles `tenant.members.invite`.
pub async fn invite(ctx: Ctx, request: InviteRequest) -> Result<InvitationReply, Error> {
    let mut v = Validation::default();
    let email = v.check("email", Email::parse(&request.email));
    if request.role == Role::Owner {
        v.add("role", "must be admin or member");
    }
    v.finish()?;
    let Some(email) = email else {
        return Err(Error::internal(anyhow::anyhow!(
            "validation passed with a missing value"
        )));
    };
    if request.role == Role::Admin && ctx.caller().await?.role != Role::Owner {
        return Err(
            Error::new(ErrorCode::Forbidden).with_message("only an owner may invite an admin")
        );
    }
    // The request's transaction: with an Idempotency-Key, the runtime
    // stores the reply in it, with the invitation.
    let mut tx = ctx.tx().await?;
    let invitation = invitations::issue(&mut tx, ctx.claims()?.sub, &email, request.role).await?;
    tracing::info!(invitation_id = %invitation.id, role = invitation.role.as_str(), "invited");
    Ok(InvitationReply { invitation })
}

/// Handles `tenant.members.invitations.list`: pending invitations (not
/// accepted, replaced, revoked or expired), by id.
pub async fn list(ctx: Ctx, page: PageRequest) -> Result<Page<Invitation>, Error> {
    let operation = &ctx.request().operation;
    let pager = Pager::new(
        operation,
        ctx.claims()?.tid,
        "",
        page.limit,
        page.cursor.as_deref(),
    )?;
    let rows: Vec<InvitationRow> = sqlx::query_as(&format!(
        "SELECT {INVITATION_COLUMNS} FROM invitations
          WHERE id > $1 AND accepted_at IS NULL AND revoked_at IS NULL AND expires_at > $3
          ORDER BY id LIMIT $2"
    ))
    .bind(pager.after())
    .bind(pager.fetch())
    .bind(ctx.now())
    .fetch_all(&mut *ctx.tx().await?)
    .await?;
    pager.page_of(rows, InvitationRow::into_invitation, |i| i.id)
}

/// Handles `tenant.members.invitations.revoke`: the token stops working.
pub async fn revoke(ctx: Ctx, request: RevokeInvitationRequest) -> Result<Empty, Error> {
    let mut tx = ctx.tx().await?;
    let revoked: Option<(String, String)> = sqlx::query_as(
        "UPDATE invitations SET revoked_at = $2
          WHERE id = $1 AND accepted_at IS NULL AND revoked_at IS NULL AND expires_at > $2
      RETURNING email, role",
    )
    .bind(request.id)
    .bind(ctx.now())
    .fetch_optional(&mut *tx)
    .await?;
    let Some((email, role)) = revoked else {
        return Err(Error::not_found("no such pending invitation"));
    };
    let role = Role::parse(&role).ok_or_else(|| {
        Error::internal(anyhow::anyhow!(
            "invitation {} has role {role:?}",
            request.id
        ))
    })?;
    let event = data::InvitationRevoked {
        invitation_id: request.id,
        email: Some(email),
        role,
    };
    tx.emit(request.id, &event).await?;
    Ok(Empty {})
}
