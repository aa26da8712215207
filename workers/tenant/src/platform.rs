//! What platform administrators (owners and admins of the tenant
//! `platform`) do to tenants: `tenant.list`, `tenant.suspend`,
//! `tenant.reactivate`. The runtime has checked the caller before these
//! run.
//!
//! A suspended tenant's users cannot log in (`invalid_credentials`, like
//! any failed login) and their access tokens are refused by every worker
//! within a second: this process knows at once, the others read it from
//! Postgres (see `olympus_runtime::revocation`).

use olympus_contracts::event::data;
use olympus_contracts::shapes::{Page, Tenant, TenantStatus};
use olympus_contracts::tenant::{ListTenantsRequest, TenantIdRequest, TenantReply};
use olympus_contracts::ErrorCode;
use olympus_runtime::pages::Pager;
use olympus_runtime::{Ctx, Error};

use crate::slug::RESERVED;
use crate::tenants::{self, TenantRow, TENANT_COLUMNS};

/// Handles `tenant.list`: every tenant, or those of one status, by id.
pub async fn list(ctx: Ctx, request: ListTenantsRequest) -> Result<Page<Tenant>, Error> {
    let status = request.status.map(TenantStatus::as_str);
    let pager = Pager::new(
        &ctx.request().operation,
        ctx.claims()?.tid,
        status.unwrap_or(""),
        request.limit,
        request.cursor.as_deref(),
    )?;
    // The platform scope: every tenant row.
    let rows: Vec<TenantRow> = sqlx::query_as(&format!(
        "SELECT {TENANT_COLUMNS} FROM tenants
          WHERE id > $1 AND ($3::text IS NULL OR status = $3)
          ORDER BY id LIMIT $2"
    ))
    .bind(pager.after())
    .bind(pager.fetch())
    .bind(status)
    .fetch_all(&mut *ctx.tx().await?)
    .await?;
    pager.page_of(rows, TenantRow::into_tenant, |t| t.id)
}

/// Handles `tenant.suspend`.
pub async fn suspend(ctx: Ctx, request: TenantIdRequest) -> Result<TenantReply, Error> {
    set_status(ctx, request, TenantStatus::Suspended).await
}

/// Handles `tenant.reactivate`.
pub async fn reactivate(ctx: Ctx, request: TenantIdRequest) -> Result<TenantReply, Error> {
    set_status(ctx, request, TenantStatus::Active).await
}

async fn set_status(
    ctx: Ctx,
    request: TenantIdRequest,
    to: TenantStatus,
) -> Result<TenantReply, Error> {
    let id = request.id;
    // In the target tenant's own scope.
    let mut tx = ctx.tx_in(id).await?;
    let current = tenants::lock(&mut tx, id).await?;
    if RESERVED.contains(&current.slug.as_str()) {
        return Err(Error::new(ErrorCode::Forbidden)
            .with_message("the platform tenant cannot be suspended or reactivated"));
    }
    if current.status == to.as_str() {
        return Err(Error::invalid_state(
            &current.status,
            format!("the tenant is already {}", current.status),
        ));
    }
    let row: TenantRow = sqlx::query_as(&format!(
        "UPDATE tenants SET status = $2, updated_at = $3 WHERE id = $1 RETURNING {TENANT_COLUMNS}"
    ))
    .bind(id)
    .bind(to.as_str())
    .bind(ctx.now())
    .fetch_one(&mut *tx)
    .await?;
    let tenant = row.into_tenant()?;
    match to {
        TenantStatus::Suspended => {
            let suspended = data::TenantSuspended {
                tenant: tenant.clone(),
            };
            tx.emit(id, &suspended).await?
        }
        TenantStatus::Active => {
            let reactivated = data::TenantReactivated {
                tenant: tenant.clone(),
            };
            tx.emit(id, &reactivated).await?
        }
    };
    // Known to this process at once, once committed; the others read it
    // within a second.
    let app = ctx.app().clone();
    ctx.on_commit(async move {
        app.revocations()
            .set_suspended(id, to == TenantStatus::Suspended);
    });
    tracing::info!(tenant_id = %id, status = to.as_str(), "tenant status changed");
    Ok(TenantReply { tenant })
}
