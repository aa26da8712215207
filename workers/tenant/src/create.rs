//! `tenant.create`: a new tenant and its owner, in one transaction, with the
//! owner's first session, the `tenant.created` and `user.registered` events,
//! and the owner's `verify_email` mail.

use olympus_auth::email::Email;
use olympus_auth::members;
use olympus_auth::password::NewPassword;
use olympus_auth::users::NewUser;
use olympus_contracts::event::data;
use olympus_contracts::shapes::Role;
use olympus_contracts::tenant::{CreateTenantReply, CreateTenantRequest};
use olympus_runtime::error::{is_unique_violation, Validation};
use olympus_runtime::{text, Ctx, Error};
use uuid::Uuid;

use crate::slug::Slug;
use crate::tenants::{TenantRow, TENANT_COLUMNS};

/// Handles `tenant.create`.
pub async fn create(ctx: Ctx, request: CreateTenantRequest) -> Result<CreateTenantReply, Error> {
    // First, so that a signup shed for a full hashing queue costs nothing.
    let slot = olympus_auth::hashing::passwords(ctx.app())?.admit(ctx.party())?;
    let mut v = Validation::default();
    let slug = v.check("slug", Slug::parse(&request.slug));
    let name = v.check("name", text::line(&request.name, 1, 100));
    let email = v.check("owner.email", Email::parse(&request.owner.email));
    let password = v.check(
        "owner.password",
        NewPassword::parse(&request.owner.password, email.as_ref()),
    );
    let display_name = match &request.owner.display_name {
        Some(raw) => v.check("owner.display_name", text::line(raw, 1, 100)),
        None => email.as_ref().map(|e| e.local_part().to_owned()),
    };
    v.finish()?;
    let (Some(slug), Some(name), Some(email), Some(password), Some(display_name)) =
        (slug, name, email, password, display_name)
    else {
        return Err(Error::internal(anyhow::anyhow!(
            "validation passed with a missing value"
        )));
    };

    let password_hash = slot.hash(password.secret()).await?;

    // The new tenant's own scope, as the request role: the tenant row,
    // then everything in it, in one transaction.
    let tenant_id = Uuid::now_v7();
    let mut tx = ctx.tx_in(tenant_id).await?;
    let tenant: TenantRow = sqlx::query_as(&format!(
        "INSERT INTO tenants (id, slug, name) VALUES ($1, $2, $3) RETURNING {TENANT_COLUMNS}"
    ))
    .bind(tenant_id)
    .bind(slug.as_str())
    .bind(&name)
    .fetch_one(&mut *tx)
    .await
    .map_err(|e| {
        if is_unique_violation(&e, "tenants_slug_key") {
            Error::conflict("slug")
        } else {
            Error::from(e)
        }
    })?;
    let tenant = tenant.into_tenant()?;
    let owner_id = Uuid::now_v7();
    // The owner acts, though they hold no token yet.
    tx.act_as(owner_id);
    let created = data::TenantCreated {
        tenant: tenant.clone(),
    };
    tx.emit(tenant.id, &created).await?;
    let new = NewUser {
        id: owner_id,
        tenant_id: tenant.id,
        email: &email,
        display_name: &display_name,
        role: Role::Owner,
        password_hash: &password_hash,
        email_verified: false,
    };
    let (owner, tokens) = members::create(&ctx, &mut tx, new).await?;
    tracing::info!(tenant_id = %tenant.id, slug = %tenant.slug, owner_id = %owner.id, "tenant created");
    Ok(CreateTenantReply {
        tenant,
        owner,
        tokens,
    })
}
