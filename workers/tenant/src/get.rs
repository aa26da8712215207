//! `tenant.get`: the caller's own tenant; platform administrators may name
//! any tenant by `id`.
//!
//! For anyone else another tenant's id is `not_found`, exactly like an id
//! that does not exist, so ids cannot be probed.

use olympus_contracts::tenant::{GetTenantRequest, TenantReply};
use olympus_runtime::shared_reads::SharedRead;
use olympus_runtime::{Ctx, Error};
use sqlx::FromRow;
use std::sync::LazyLock;

use crate::tenants::{TenantRow, TENANT_COLUMNS};

/// Handles `tenant.get`.
pub async fn get(ctx: Ctx, request: GetTenantRequest) -> Result<TenantReply, Error> {
    let claims = ctx.claims()?;
    let id = request.id.unwrap_or(claims.tid);
    if id != claims.tid && !ctx.caller().await?.is_platform_admin() {
        return Err(Error::not_found("no such tenant"));
    }
    // Row-level security confines this to the tenant `id`; the round trip
    // is shared with the other requests waiting for this read.
    static READ: LazyLock<SharedRead> = LazyLock::new(|| {
        SharedRead::new(&format!(
            "SELECT {TENANT_COLUMNS} FROM tenants WHERE id = k.key"
        ))
    });
    let row = ctx
        .read_shared(&READ, id, id)
        .await?
        .ok_or_else(|| Error::not_found("no such tenant"))?;
    Ok(TenantReply {
        tenant: TenantRow::from_row(&row)?.into_tenant()?,
    })
}
