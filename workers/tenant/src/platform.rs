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
use olympus_runtime::outbox::Event;
use olympus_runtime::pages::Pager;
use olympus_runtime::{App, Call, Error};

use crate::slug::RESERVED;
use crate::tenants::{self, TenantRow, TENANT_COLUMNS};

/// Handles `tenant.list`: every tenant, or those of one status, by id.
pub async fn list(app: App, call: Call<ListTenantsRequest>) -> Result<Page<Tenant>, Error> {
    let claims = call.meta.claims()?;
    let request = call.body;
    let status = request.status.map(TenantStatus::as_str);
    let pager = Pager::new(
        &call.meta,
        claims.tid,
        status.unwrap_or(""),
        request.limit,
        request.cursor.as_deref(),
    )?;
    let mut tx = app.db().platform().await?;
    let rows: Vec<TenantRow> = sqlx::query_as(&format!(
        "SELECT {TENANT_COLUMNS} FROM tenants
          WHERE id > $1 AND ($3::text IS NULL OR status = $3)
          ORDER BY id LIMIT $2"
    ))
    .bind(pager.after())
    .bind(pager.fetch())
    .bind(status)
    .fetch_all(&mut *tx)
    .await?;
    olympus_runtime::db::commit(tx).await?;
    pager.page_of(rows, TenantRow::into_tenant, |t| t.id)
}

/// Handles `tenant.suspend`.
pub async fn suspend(app: App, call: Call<TenantIdRequest>) -> Result<TenantReply, Error> {
    set_status(app, call, TenantStatus::Suspended).await
}

/// Handles `tenant.reactivate`.
pub async fn reactivate(app: App, call: Call<TenantIdRequest>) -> Result<TenantReply, Error> {
    set_status(app, call, TenantStatus::Active).await
}

async fn set_status(
    app: App,
    call: Call<TenantIdRequest>,
    to: TenantStatus,
) -> Result<TenantReply, Error> {
    let claims = call.meta.claims()?;
    let id = call.body.id;
    // In the target tenant's own scope.
    let mut tx = app.db().tenant(id).await?;
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
    .bind(app.now())
    .fetch_one(&mut *tx)
    .await?;
    let tenant = row.into_tenant()?;
    let events = app.events(&call.meta).actor(claims.sub);
    let event = match to {
        TenantStatus::Suspended => Event::new(
            id,
            id,
            &data::TenantSuspended {
                tenant: tenant.clone(),
            },
        ),
        TenantStatus::Active => Event::new(
            id,
            id,
            &data::TenantReactivated {
                tenant: tenant.clone(),
            },
        ),
    };
    events.emit(&mut tx, event).await?;
    olympus_runtime::db::commit(tx).await?;
    app.revocations()
        .set_suspended(id, to == TenantStatus::Suspended);
    tracing::info!(tenant_id = %id, status = to.as_str(), "tenant status changed");
    Ok(TenantReply { tenant })
}
