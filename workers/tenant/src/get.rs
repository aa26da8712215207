//! `tenant.get`: the caller's own tenant; platform administrators may name
//! any tenant by `id`.
//!
//! For anyone else another tenant's id is `not_found`, exactly like an id
//! that does not exist, so ids cannot be probed.

use olympus_contracts::tenant::{GetTenantRequest, TenantReply};
use olympus_runtime::{db, App, Call, Error};
use std::sync::LazyLock;

use crate::tenants::{TenantRow, TENANT_COLUMNS};

/// Handles `tenant.get`.
pub async fn get(app: App, call: Call<GetTenantRequest>) -> Result<TenantReply, Error> {
    let claims = call.meta.claims()?;
    let id = call.body.id.unwrap_or(claims.tid);
    if id != claims.tid && !call.meta.caller(&app).await?.is_platform_admin() {
        return Err(Error::not_found("no such tenant"));
    }
    // Row-level security confines this to the tenant `id`; one round trip.
    static READ: LazyLock<String> = LazyLock::new(|| {
        db::in_tenant(&format!(
            "SELECT {TENANT_COLUMNS} FROM tenants WHERE id = $1"
        ))
    });
    let row: Option<TenantRow> = sqlx::query_as(READ.as_str())
        .bind(id)
        .fetch_optional(app.db().app_pool())
        .await?;
    Ok(TenantReply {
        tenant: row
            .ok_or_else(|| Error::not_found("no such tenant"))?
            .into_tenant()?,
    })
}
