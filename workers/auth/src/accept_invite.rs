//! `auth.accept_invite`: an invitee joins with the token from their mail,
//! chooses a password, and is signed in; their address counts as verified.

use olympus_contracts::auth::{AcceptInviteRequest, SessionReply};
use olympus_contracts::ErrorCode;
use olympus_runtime::error::Validation;
use olympus_runtime::{text, Ctx, Error};
use uuid::Uuid;

use crate::email::Email;
use crate::invitations;
use crate::members;
use crate::opaque;
use crate::password::NewPassword;
use crate::users::NewUser;

/// Handles `auth.accept_invite`.
pub async fn accept_invite(ctx: Ctx, request: AcceptInviteRequest) -> Result<SessionReply, Error> {
    // First, so that a request shed for a full hashing queue costs nothing.
    let slot = crate::hashing::passwords(ctx.app())?.admit(ctx.party())?;
    let invalid = || Error::new(ErrorCode::InvalidToken);
    let (tenant_id, hash) = opaque::parse(request.token.expose()).ok_or_else(invalid)?;

    // A look first (the password rules need the address), without using
    // the invitation, and apart from the request's transaction, which
    // would otherwise be held while the password is hashed: a refused
    // password leaves the invitation for another try.
    #[derive(sqlx::FromRow)]
    struct Pending {
        email: String,
        active: bool,
    }
    let now = ctx.now();
    let pending: Option<Pending> = ctx
        .apart(Some(tenant_id), async |tx| {
            Ok(sqlx::query_as(
                "SELECT i.email, t.status = 'active' AS active
                   FROM invitations i JOIN tenants t ON t.id = i.tenant_id
                  WHERE i.token_hash = $1 AND i.accepted_at IS NULL AND i.revoked_at IS NULL
                    AND i.expires_at > $2",
            )
            .bind(&hash)
            .bind(now)
            .fetch_optional(&mut **tx)
            .await?)
        })
        .await?;
    let Pending { email, active } = pending.ok_or_else(invalid)?;
    if !active {
        return Err(Error::new(ErrorCode::Forbidden).with_message("this tenant is suspended"));
    }
    let email = Email::parse(&email)
        .map_err(|_| Error::internal(anyhow::anyhow!("an invitation holds an invalid address")))?;
    let mut v = Validation::default();
    let password = v.check(
        "password",
        NewPassword::parse(&request.password, Some(&email)),
    );
    let display_name = match &request.display_name {
        Some(raw) => v.check("display_name", text::line(raw, 1, 100)),
        None => Some(email.local_part().to_owned()),
    };
    v.finish()?;
    let (Some(password), Some(display_name)) = (password, display_name) else {
        return Err(Error::internal(anyhow::anyhow!(
            "validation passed with a missing value"
        )));
    };
    let password_hash = slot.hash(password.secret()).await?;

    // Now for real: the invitation works once, even against a concurrent
    // acceptance.
    let mut tx = ctx.tx_in(tenant_id).await?;
    let (_, role) = invitations::redeem(&mut tx, &hash, ctx.now())
        .await?
        .ok_or_else(invalid)?;
    let new = NewUser {
        id: Uuid::now_v7(),
        tenant_id,
        email: &email,
        display_name: &display_name,
        role,
        password_hash: &password_hash,
        email_verified: true,
    };
    let (user, tokens) = members::create(&ctx, &mut tx, new).await?;
    tracing::info!(user_id = %user.id, %tenant_id, "joined by invitation");
    Ok(SessionReply { user, tokens })
}
