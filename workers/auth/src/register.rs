//! `auth.register`: joining a tenant that allows self-registration, as a
//! member, with a first session and the verification mail.

use olympus_contracts::auth::{RegisterRequest, SessionReply};
use olympus_contracts::shapes::Role;
use olympus_contracts::ErrorCode;
use olympus_runtime::error::Validation;
use olympus_runtime::{text, Ctx, Error};
use uuid::Uuid;

use crate::email::Email;
use crate::members;
use crate::password::NewPassword;
use crate::users::NewUser;

/// Handles `auth.register`.
pub async fn register(ctx: Ctx, request: RegisterRequest) -> Result<SessionReply, Error> {
    // First, so that a registration shed for a full hashing queue costs nothing.
    let slot = crate::hashing::passwords(ctx.app())?.admit(ctx.party())?;
    let mut v = Validation::default();
    let email = v.check("email", Email::parse(&request.email));
    let password = v.check(
        "password",
        NewPassword::parse(&request.password, email.as_ref()),
    );
    let display_name = match &request.display_name {
        Some(raw) => v.check("display_name", text::line(raw, 1, 100)),
        None => email.as_ref().map(|e| e.local_part().to_owned()),
    };
    v.finish()?;
    let (Some(email), Some(password), Some(display_name)) = (email, password, display_name) else {
        return Err(Error::internal(anyhow::anyhow!(
            "validation passed with a missing value"
        )));
    };

    let tenant_id = open_tenant(&ctx, &request.tenant).await?;
    let password_hash = slot.hash(password.secret()).await?;
    let mut tx = ctx.tx_in(tenant_id).await?;
    let new = NewUser {
        id: Uuid::now_v7(),
        tenant_id,
        email: &email,
        display_name: &display_name,
        role: Role::Member,
        password_hash: &password_hash,
        email_verified: false,
    };
    let (user, tokens) = members::create(&ctx, &mut tx, new).await?;
    tracing::info!(user_id = %user.id, %tenant_id, "registered");
    Ok(SessionReply { user, tokens })
}

/// The tenant a slug names, when it takes registrations: `not_found` when
/// there is none, `forbidden` when it is suspended or invitation-only.
async fn open_tenant(ctx: &Ctx, slug: &str) -> Result<Uuid, Error> {
    #[derive(sqlx::FromRow)]
    struct Found {
        id: Uuid,
        active: bool,
        self_registration: bool,
    }
    // A look-up that scopes itself (a definer function): no transaction
    // is held while the password is hashed.
    let tenant: Option<Found> = ctx
        .look_up(|pool| {
            sqlx::query_as("SELECT id, active, self_registration FROM olympus_tenant_by_slug($1)")
                .bind(slug)
                .fetch_optional(pool)
        })
        .await?;
    match tenant {
        None => Err(Error::new(ErrorCode::NotFound).with_message("no tenant has this slug")),
        Some(Found { active: false, .. }) => {
            Err(Error::new(ErrorCode::Forbidden).with_message("this tenant is suspended"))
        }
        Some(Found {
            self_registration: false,
            ..
        }) => Err(Error::new(ErrorCode::Forbidden)
            .with_message("this tenant takes new members by invitation only")),
        Some(Found { id, .. }) => Ok(id),
    }
}
