//! `tenant.update` (owner, admin): the tenant's name and whether anyone may
//! register into it; owners alone also say whether members need a second
//! factor (`require_mfa`). The runtime of this process knows the new
//! requirement once the change commits, every other process within a poll
//! of its revocation knowledge.

use olympus_contracts::event::data;
use olympus_contracts::shapes::Role;
use olympus_contracts::tenant::{TenantReply, UpdateTenantRequest};
use olympus_contracts::ErrorCode;
use olympus_runtime::error::Validation;
use olympus_runtime::{text, Ctx, Error};

use crate::tenants::{self, TenantRow, TENANT_COLUMNS};

/// Handles `tenant.update`.
pub async fn update(ctx: Ctx, request: UpdateTenantRequest) -> Result<TenantReply, Error> {
    let tenant_id = ctx.claims()?.tid;
    let mut v = Validation::default();
    let name = request
        .name
        .as_deref()
        .and_then(|raw| v.check("name", text::line(raw, 1, 100)));
    v.finish()?;
    if request.require_mfa.is_some() && ctx.caller().await?.role != Role::Owner {
        return Err(Error::new(ErrorCode::Forbidden)
            .with_message("only an owner may change require_mfa")
            .with_detail("field", "require_mfa"));
    }
    let mut tx = ctx.tx().await?;
    let current = tenants::lock(&mut tx, tenant_id).await?;
    let name = name.unwrap_or_else(|| current.name.clone());
    let self_registration = request
        .self_registration
        .unwrap_or(current.self_registration);
    let require_mfa = request.require_mfa.unwrap_or(current.require_mfa);
    let changed = name != current.name
        || self_registration != current.self_registration
        || require_mfa != current.require_mfa;
    if !changed {
        return Ok(TenantReply {
            tenant: current.into_tenant()?,
        });
    }
    let tenant: TenantRow = sqlx::query_as(&format!(
        "UPDATE tenants SET name = $2, self_registration = $3, require_mfa = $4, updated_at = $5
          WHERE id = $1 RETURNING {TENANT_COLUMNS}"
    ))
    .bind(tenant_id)
    .bind(&name)
    .bind(self_registration)
    .bind(require_mfa)
    .bind(ctx.now())
    .fetch_one(&mut *tx)
    .await?;
    let tenant = tenant.into_tenant()?;
    let updated = data::TenantUpdated {
        tenant: tenant.clone(),
    };
    tx.emit(tenant.id, &updated).await?;
    if require_mfa != current.require_mfa {
        tracing::info!(%tenant_id, require_mfa, "the tenant's MFA requirement changed");
        let app = ctx.app().clone();
        ctx.on_commit(async move { app.revocations().set_require_mfa(tenant_id, require_mfa) });
    }
    Ok(TenantReply { tenant })
}
