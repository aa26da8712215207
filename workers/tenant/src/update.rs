//! `tenant.update` (owner, admin): the tenant's name and whether anyone may
//! register into it.

use olympus_contracts::event::data;
use olympus_contracts::tenant::{TenantReply, UpdateTenantRequest};
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
    let mut tx = ctx.tx().await?;
    let current = tenants::lock(&mut tx, tenant_id).await?;
    let name = name.unwrap_or_else(|| current.name.clone());
    let self_registration = request
        .self_registration
        .unwrap_or(current.self_registration);
    let changed = name != current.name || self_registration != current.self_registration;
    if !changed {
        return Ok(TenantReply {
            tenant: current.into_tenant()?,
        });
    }
    let tenant: TenantRow = sqlx::query_as(&format!(
        "UPDATE tenants SET name = $2, self_registration = $3, updated_at = $4
          WHERE id = $1 RETURNING {TENANT_COLUMNS}"
    ))
    .bind(tenant_id)
    .bind(&name)
    .bind(self_registration)
    .bind(ctx.now())
    .fetch_one(&mut *tx)
    .await?;
    let tenant = tenant.into_tenant()?;
    let updated = data::TenantUpdated {
        tenant: tenant.clone(),
    };
    tx.emit(tenant.id, &updated).await?;
    Ok(TenantReply { tenant })
}
