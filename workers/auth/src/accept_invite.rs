//! `auth.accept_invite`: an invitee joins with the token from their mail,
//! chooses a password, and is signed in; their address counts as verified.

use olympus_contracts::auth::{AcceptInviteRequest, SessionReply};
use olympus_contracts::ErrorCode;
use olympus_runtime::error::Validation;
use olympus_runtime::{text, App, Call, Error};

use crate::opaque;
use uuid::Uuid;

use crate::email::Email;
use crate::invitations;
use crate::members;
use crate::password::NewPassword;
use crate::users::NewUser;

/// Handles `auth.accept_invite`.
pub async fn accept_invite(
    app: App,
    call: Call<AcceptInviteRequest>,
) -> Result<SessionReply, Error> {
    // First, so that a request shed for a full hashing queue costs nothing.
    let slot = crate::hashing::passwords(&app)?.admit()?;
    let request = call.body;
    let invalid = || Error::new(ErrorCode::InvalidToken);
    let (tenant_id, hash) = opaque::parse(request.token.expose()).ok_or_else(invalid)?;

    // A look first (the password rules need the address), without using
    // the invitation: a refused password leaves it for another try.
    let mut tx = app.db().tenant(tenant_id).await?;
    let pending: Option<(String, bool)> = sqlx::query_as(
        "SELECT i.email, t.status = 'active'
           FROM invitations i JOIN tenants t ON t.id = i.tenant_id
          WHERE i.token_hash = $1 AND i.accepted_at IS NULL AND i.revoked_at IS NULL
            AND i.expires_at > $2",
    )
    .bind(&hash)
    .bind(app.now())
    .fetch_optional(&mut *tx)
    .await?;
    olympus_runtime::db::commit(tx).await?;
    let (address, active) = pending.ok_or_else(invalid)?;
    if !active {
        return Err(Error::new(ErrorCode::Forbidden).with_message("this tenant is suspended"));
    }
    let email = Email::parse(&address)
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
    let mut tx = app.db().tenant(tenant_id).await?;
    let (_, role) = invitations::redeem(&mut tx, &hash, app.now())
        .await?
        .ok_or_else(invalid)?;
    let (user, tokens) = members::create(
        &app,
        &mut tx,
        &call.meta,
        NewUser {
            id: Uuid::now_v7(),
            tenant_id,
            email: &email,
            display_name: &display_name,
            role,
            password_hash: &password_hash,
            email_verified: true,
        },
    )
    .await?;
    olympus_runtime::db::commit(tx).await?;
    tracing::info!(user_id = %user.id, %tenant_id, "joined by invitation");
    Ok(SessionReply { user, tokens })
}
