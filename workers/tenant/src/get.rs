//! `tenant.get`: the caller's own tenant; platform administrators may name
//! any tenant by `id`.
//!
//! For anyone else another tenant's id is `not_found`, exactly like an id
//! that does not exist, so ids cannot be probed.

use olympus_contracts::tenant::{GetTenantRequest, TenantReply};
use olympus_runtime::{App, Call, Error};

use crate::tenants;

/// Handles `tenant.get`.
pub async fn get(app: App, call: Call<GetTenantRequest>) -> Result<TenantReply, Error> {
    let claims = call.meta.claims()?;
    let id = call.body.id.unwrap_or(claims.tid);
    if id != claims.tid && !call.meta.caller(&app).await?.is_platform_admin() {
        return Err(Error::not_found("no such tenant"));
    }
    // Row-level security confines this to the tenant `id`.
    let mut tx = app.db().tenant(id).await?;
    let tenant = tenants::find(&mut tx, id).await?;
    tx.commit().await?;
    Ok(TenantReply {
        tenant: tenant.ok_or_else(|| Error::not_found("no such tenant"))?,
    })
}
