//! The `tenants` table.

use chrono::{DateTime, Utc};
use olympus_contracts::shapes::{Tenant, TenantStatus};
use olympus_runtime::Error;
use sqlx::PgConnection;
use uuid::Uuid;

/// The columns of [`TenantRow`].
pub const TENANT_COLUMNS: &str =
    "id, slug, name, status, self_registration, require_mfa, created_at, updated_at";

/// A `tenants` row.
#[derive(Debug, sqlx::FromRow)]
pub struct TenantRow {
    pub id: Uuid,
    pub slug: String,
    pub name: String,
    pub status: String,
    pub self_registration: bool,
    pub require_mfa: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl TenantRow {
    /// The contract's tenant shape.
    pub fn into_tenant(self) -> Result<Tenant, Error> {
        let status = TenantStatus::parse(&self.status).ok_or_else(|| {
            Error::internal(anyhow::anyhow!(
                "tenant {} has unknown status {:?}",
                self.id,
                self.status
            ))
        })?;
        Ok(Tenant {
            id: self.id,
            slug: self.slug,
            name: self.name,
            status,
            self_registration: self.self_registration,
            require_mfa: self.require_mfa,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

/// The tenant `id` of the connection's scope, locked for the rest of the
/// transaction; `not_found` when the scope does not show it.
pub async fn lock(conn: &mut PgConnection, id: Uuid) -> Result<TenantRow, Error> {
    sqlx::query_as(&format!(
        "SELECT {TENANT_COLUMNS} FROM tenants WHERE id = $1 FOR UPDATE"
    ))
    .bind(id)
    .fetch_optional(conn)
    .await?
    .ok_or_else(|| Error::not_found("no such tenant"))
}

/// The tenant `id`, when the connection's scope shows it.
pub async fn find(conn: &mut PgConnection, id: Uuid) -> Result<Option<Tenant>, Error> {
    let row: Option<TenantRow> = sqlx::query_as(&format!(
        "SELECT {TENANT_COLUMNS} FROM tenants WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(conn)
    .await?;
    row.map(TenantRow::into_tenant).transpose()
}
