//! `tenant.get`: the caller's own tenant.
//!
//! Another tenant's id is `not_found`, exactly like an id that does not
//! exist, so ids cannot be probed. (Platform administrators, who may read
//! any tenant, come with the tenant administration work.)

use olympus_contracts::tenant::{GetTenantRequest, TenantReply};
use olympus_contracts::ErrorCode;
use olympus_runtime::{App, Call, Error};

use crate::tenants::{TenantRow, TENANT_COLUMNS};

/// Handles `tenant.get`.
pub async fn get(app: App, call: Call<GetTenantRequest>) -> Result<TenantReply, Error> {
    let claims = call.meta.claims()?;
    let id = call.body.id.unwrap_or(claims.tid);
    let mut tx = app.db().tenant(claims.tid).await?;
    // Row-level security confines this to the caller's tenant even if `id`
    // names another.
    let row: Option<TenantRow> = sqlx::query_as(&format!(
        "SELECT {TENANT_COLUMNS} FROM tenants WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    tx.commit().await?;
    let tenant = row
        .ok_or_else(|| Error::new(ErrorCode::NotFound).with_message("no such tenant"))?
        .into_tenant()?;
    Ok(TenantReply { tenant })
}
