//! `tenant.update` (owner, admin): the tenant's name and whether anyone may
//! register into it.

use olympus_contracts::event::data;
use olympus_contracts::tenant::{TenantReply, UpdateTenantRequest};
use olympus_runtime::error::Validation;
use olympus_runtime::outbox::Event;
use olympus_runtime::{text, App, Call, Error};

use crate::tenants::{self, TenantRow, TENANT_COLUMNS};

/// Handles `tenant.update`.
pub async fn update(app: App, call: Call<UpdateTenantRequest>) -> Result<TenantReply, Error> {
    let claims = call.meta.claims()?;
    let request = call.body;
    let mut v = Validation::default();
    let name = request
        .name
        .as_deref()
        .and_then(|raw| v.check("name", text::line(raw, 1, 100)));
    v.finish()?;
    let mut tx = app.db().tenant(claims.tid).await?;
    let current = tenants::lock(&mut tx, claims.tid).await?;
    let name = name.unwrap_or_else(|| current.name.clone());
    let self_registration = request
        .self_registration
        .unwrap_or(current.self_registration);
    let changed = name != current.name || self_registration != current.self_registration;
    if !changed {
        olympus_runtime::db::commit(tx).await?;
        return Ok(TenantReply {
            tenant: current.into_tenant()?,
        });
    }
    let tenant: TenantRow = sqlx::query_as(&format!(
        "UPDATE tenants SET name = $2, self_registration = $3, updated_at = $4
          WHERE id = $1 RETURNING {TENANT_COLUMNS}"
    ))
    .bind(claims.tid)
    .bind(&name)
    .bind(self_registration)
    .bind(app.now())
    .fetch_one(&mut *tx)
    .await?;
    let tenant = tenant.into_tenant()?;
    app.events(&call.meta)
        .actor(claims.sub)
        .emit(
            &mut tx,
            Event::new(
                tenant.id,
                tenant.id,
                &data::TenantUpdated {
                    tenant: tenant.clone(),
                },
            ),
        )
        .await?;
    olympus_runtime::db::commit(tx).await?;
    Ok(TenantReply { tenant })
}
