//! Postgres: one pool, embedded migrations, tenant-scoped transactions.
//!
//! The pool connects as the schema owner. Tenant data is only touched in a
//! transaction opened by [`Db::tenant`] (or entered with [`enter_tenant`]):
//! it switches to the role `olympus_app` and sets `olympus.tenant_id`, both
//! transaction-locally, so row-level security confines every statement to
//! that tenant and nothing leaks to the next user of the connection.

use anyhow::Context;
use sqlx::migrate::{MigrateDatabase, Migrator};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgConnection, PgPool, Postgres, Transaction};
use std::str::FromStr;
use std::time::Duration;
use uuid::Uuid;

/// The one migration history of the whole database (`migrations/`).
pub static MIGRATOR: Migrator = sqlx::migrate!("../../migrations");

/// The role tenant queries run as.
pub const APP_ROLE: &str = "olympus_app";

/// A transaction; tenant-scoped when opened by [`Db::tenant`].
pub type Tx = Transaction<'static, Postgres>;

/// The connection pool.
#[derive(Debug, Clone)]
pub struct Db {
    pool: PgPool,
}

impl Db {
    /// Connects, creating the database first when `create` is set and it
    /// does not exist.
    pub async fn connect(url: &str, max_connections: u32, create: bool) -> anyhow::Result<Self> {
        let redacted = crate::config::redact_url(url);
        if create
            && !Postgres::database_exists(url)
                .await
                .with_context(|| format!("connecting to Postgres at {redacted}"))?
        {
            tracing::info!(database = %redacted, "creating the database");
            if let Err(err) = Postgres::create_database(url).await {
                // Another process may have created it in the meantime.
                if !Postgres::database_exists(url).await.unwrap_or(false) {
                    return Err(err).with_context(|| format!("creating database {redacted}"));
                }
            }
        }
        let options = PgConnectOptions::from_str(url)
            .with_context(|| format!("parsing DATABASE_URL {redacted}"))?
            .application_name("olympus");
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(options)
            .await
            .with_context(|| format!("connecting to Postgres at {redacted}"))?;
        Ok(Self { pool })
    }

    /// Wraps an existing pool.
    pub fn from_pool(pool: PgPool) -> Self {
        Self { pool }
    }

    /// Applies pending migrations (safe to run from several processes).
    pub async fn migrate(&self) -> anyhow::Result<()> {
        MIGRATOR
            .run(&self.pool)
            .await
            .context("applying migrations")?;
        Ok(())
    }

    /// Fails unless the connecting role can read every tenant's rows
    /// (superuser or BYPASSRLS), as the outbox relay must: with forced
    /// row-level security it would otherwise see no event and publish none.
    pub async fn check_owner_bypasses_rls(&self) -> anyhow::Result<()> {
        let (role, bypasses): (String, bool) = sqlx::query_as(
            "SELECT rolname::text, rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user",
        )
        .fetch_one(&self.pool)
        .await
        .context("checking the database role")?;
        if !bypasses {
            anyhow::bail!(
                "the database role {role:?} is neither superuser nor BYPASSRLS: the outbox relay \
                 could not read events (ALTER ROLE {role} BYPASSRLS, see README)"
            );
        }
        Ok(())
    }

    /// The pool, for queries outside tenant scope (as the owner).
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// A transaction as the owner: for cross-tenant lookups (a slug at
    /// login) and housekeeping. Tenant data needs [`enter_tenant`] first.
    pub async fn begin(&self) -> Result<Tx, sqlx::Error> {
        self.pool.begin().await
    }

    /// A transaction confined to one tenant by row-level security.
    pub async fn tenant(&self, tenant_id: Uuid) -> Result<Tx, sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        enter_tenant(&mut tx, tenant_id).await?;
        Ok(tx)
    }
}

/// Switches the current transaction to `olympus_app` and `tenant_id`, until
/// it ends. Statements after this see and write only that tenant's rows.
pub async fn enter_tenant(conn: &mut PgConnection, tenant_id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT set_config('role', $1, true), set_config('olympus.tenant_id', $2, true)")
        .bind(APP_ROLE)
        .bind(tenant_id.to_string())
        .execute(conn)
        .await?;
    Ok(())
}

/// True when `err` is a unique violation of `constraint`.
pub fn is_unique_violation(err: &sqlx::Error, constraint: &str) -> bool {
    match err {
        sqlx::Error::Database(db) => {
            db.is_unique_violation() && db.constraint() == Some(constraint)
        }
        _ => false,
    }
}
