//! Migrating a database: the schema's migrations, then the data migrations
//! that SQL alone cannot compute. An operator's work (`olympus migrate`,
//! `serve --migrate`), not a request's: it works on the database itself,
//! across tenants, as the owner.

use anyhow::Context;
use olympus_auth::email::Email;
use olympus_runtime::Db;
use uuid::Uuid;

/// Applies pending migrations, then brings stored addresses to the normal
/// form of contract revision 3 ([`normalize_stored_emails`]).
pub async fn migrate(db: &Db) -> anyhow::Result<()> {
    db.migrate().await?;
    let normalized = normalize_stored_emails(db.pool())
        .await
        .context("normalizing stored email addresses")?;
    if normalized != Normalized::default() {
        tracing::info!(
            changed = normalized.changed,
            kept = normalized.kept,
            "stored email addresses brought to their normal form (kept: their normal form is \
             taken in their tenant)"
        );
    }
    Ok(())
}

/// What [`normalize_stored_emails`] did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Normalized {
    /// Addresses brought to the normal form (users and pending invitations).
    pub changed: u64,
    /// Addresses left as stored: their normal form is another account's (or
    /// pending invitation's) in the same tenant, or they no longer parse.
    pub kept: u64,
}

/// Brings every stored address (users, pending invitations) that is not in
/// the normal form to it, unless that would collide with another of the
/// same tenant. Safe to run again: `olympus migrate` runs it after the
/// schema migrations, on the owner pool (it crosses tenants). Only
/// addresses that can differ from their normal form are read: those with a
/// character outside ASCII, or an `xn--` label.
pub async fn normalize_stored_emails(pool: &sqlx::PgPool) -> anyhow::Result<Normalized> {
    let mut done = Normalized::default();
    for (table, pending) in [
        ("users", ""),
        (
            "invitations",
            " AND accepted_at IS NULL AND revoked_at IS NULL",
        ),
    ] {
        let rows: Vec<(Uuid, Uuid, String)> = sqlx::query_as(&format!(
            "SELECT id, tenant_id, email FROM {table}
              WHERE (email ~ '[^[:ascii:]]' OR email LIKE '%xn--%'){pending}"
        ))
        .fetch_all(pool)
        .await?;
        for (id, tenant_id, stored) in rows {
            let Ok(email) = Email::parse(&stored) else {
                tracing::warn!(%id, table, "a stored address does not parse: kept as it is");
                done.kept += 1;
                continue;
            };
            if email.as_str() == stored {
                continue;
            }
            let updated = sqlx::query(&format!(
                "UPDATE {table} SET email = $2 WHERE id = $1
                   AND NOT EXISTS (SELECT 1 FROM {table} o
                                    WHERE o.tenant_id = $3 AND o.email = $2{pending})"
            ))
            .bind(id)
            .bind(email.as_str())
            .bind(tenant_id)
            .execute(pool)
            .await?
            .rows_affected();
            if updated == 1 {
                done.changed += 1;
            } else {
                tracing::warn!(
                    %id,
                    %tenant_id,
                    table,
                    "a stored address is kept as it is: its normal form is another's of the tenant"
                );
                done.kept += 1;
            }
        }
    }
    Ok(done)
}
