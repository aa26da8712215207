//! Postgres: two pools, embedded migrations, tenant-scoped transactions.
//!
//! Requests run on the **app pool**, whose connections log in as a role
//! that is not superuser, not `BYPASSRLS` and owns nothing (`olympus_app`
//! by default). A tenant's data is only touched in a transaction opened by
//! [`Db::tenant`] (or entered with [`enter_tenant`]), or by one statement
//! that enters the tenant itself ([`Db::read_shared`]; the migration
//! functions `olympus_rotate_session` and `olympus_login_look_up`, called
//! outside any transaction). Each sets `olympus.tenant_id`
//! transaction-locally, so row-level security confines every statement to
//! that tenant; and since the login role itself is unprivileged, neither
//! `RESET ROLE` nor `SET ROLE` can leave it.
//!
//! The **owner pool** logs in as `DATABASE_URL`'s role (owner of the
//! schema, superuser or `BYPASSRLS`). It serves only what must cross
//! tenants: migrations, the outbox relay, development signing keys and
//! operator commands.
//!
//! Every commit goes through [`commit`] (or [`committing`], for a write
//! that commits by itself): it says when a commit's outcome is unknown,
//! and tells the request's deadline ([`crate::deadline`]) that a commit was
//! sent; clippy refuses `Transaction::commit` elsewhere. Whether Postgres
//! answers at all is one prober's to say ([`Db::liveness`]).

use crate::deadline::Liveness;
use crate::error::Error;
use crate::shared_reads::{SharedRead, SharedReads};
use anyhow::Context;
use sqlx::migrate::{MigrateDatabase, Migrator};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgRow};
use sqlx::{PgConnection, PgPool, Postgres, Transaction};
use std::future::Future;
use std::str::FromStr;
use std::sync::{Arc, LazyLock};
use std::time::Duration;
use uuid::Uuid;

/// The one migration history of the whole database (`migrations/`). A
/// database may have migrations this binary does not know, applied by a
/// newer one (a rolling deploy): they are left alone, not an error.
pub static MIGRATOR: LazyLock<Migrator> = LazyLock::new(|| {
    let mut migrator = sqlx::migrate!("../../migrations");
    migrator.set_ignore_missing(true);
    migrator
});

/// The unprivileged role requests run as, unless `OLYMPUS_APP_DATABASE_URL`
/// names another.
pub const APP_ROLE: &str = "olympus_app";

/// Connections of the owner pool: it serves start-up and housekeeping only.
const OWNER_CONNECTIONS: u32 = 4;

/// The setting a request's transaction in a tenant begins with
/// ([`Db::tenant`]): each statement is planned once per connection,
/// generically, and that plan serves every execution after (until the
/// statement leaves the connection's cache or an `ANALYZE` invalidates
/// it), as the test `every_static_statement_is_on_an_index` plans and
/// checks every statement. Left to choose (`auto`), Postgres re-planned
/// every execution of a page in a big tenant: it estimates a generic
/// `LIMIT $2` at a tenth of the tenant's rows, dearer than the custom plan
/// of `LIMIT 21`, so the generic plan never won there, while in a small
/// tenant it did. A page of members cost Postgres 0.1 ms more in a tenant
/// of 100,000 than in one of 70, all of it planning.
///
/// A generic plan does not see a value's own frequency: a column where a
/// few values hold most rows is planned for the average. Statements
/// planned with their values stay so: PL/pgSQL functions keep `auto`
/// (migration 0038), product search plans each term (`EXECUTE`, migration
/// 0034), and the rare transactions of an export ([`Db::tenant_snapshot`])
/// and of platform administrators ([`Db::platform`]) plan as Postgres
/// chooses (a list of suspended tenants is on a partial index only with
/// its status's value).
const GENERIC_PLANS: &str = "set_config('plan_cache_mode', 'force_generic_plan', true)";

/// A transaction; tenant-scoped when opened by [`Db::tenant`].
pub type Tx = Transaction<'static, Postgres>;

/// The two pools.
#[derive(Debug, Clone)]
pub struct Db {
    owner: PgPool,
    app: PgPool,
    reads: Arc<SharedReads>,
    /// When Postgres last answered (see [`crate::deadline`]).
    liveness: Arc<Liveness>,
}

impl Db {
    /// Connects the owner pool to `url`, creating the database first when
    /// `create` is set and it does not exist, and prepares the app pool
    /// (`app_url`, or `url` as [`APP_ROLE`] without a password) with
    /// `max_connections`. App connections are opened on first use: the
    /// migrations let the role log in.
    pub async fn connect(
        url: &str,
        app_url: Option<&str>,
        max_connections: u32,
        create: bool,
    ) -> anyhow::Result<Self> {
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
        let owner_options = PgConnectOptions::from_str(url)
            .with_context(|| format!("parsing DATABASE_URL {redacted}"))?
            .application_name("olympus")
            // Postgres's notices (`relation ... already exists, skipping`
            // from every migration run) are not news to an operator.
            .options([("client_min_messages", "warning")]);
        let app_options = match app_url {
            Some(app_url) => PgConnectOptions::from_str(app_url).with_context(|| {
                format!(
                    "parsing OLYMPUS_APP_DATABASE_URL {}",
                    crate::config::redact_url(app_url)
                )
            })?,
            // The owner's password is not the request role's: where
            // Postgres asks for one, `check_roles` says to set the URL.
            None if has_password(url) => PgConnectOptions::from_str(url)?
                .username(APP_ROLE)
                .password(""),
            None => PgConnectOptions::from_str(url)?.username(APP_ROLE),
        }
        .application_name("olympus");
        let owner = PgPoolOptions::new()
            .max_connections(OWNER_CONNECTIONS.min(max_connections.max(1)))
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(owner_options.clone())
            .await;
        let owner = match owner {
            Ok(owner) => owner,
            // A mistyped name must stop the process, not make a second,
            // empty database that splits the service.
            Err(sqlx::Error::Database(err)) if err.code().as_deref() == Some("3D000") => {
                anyhow::bail!(
                    "the database {:?} does not exist at {redacted}: check DATABASE_URL \
                     (`olympus migrate` creates it; `serve` creates none unless told to with \
                     --migrate)",
                    owner_options.get_database().unwrap_or("")
                )
            }
            Err(err) => {
                return Err(err).with_context(|| format!("connecting to Postgres at {redacted}"))
            }
        };
        // A request waits at most this long for a connection: when Postgres
        // is away it is answered `unavailable` (safe to retry) well before a
        // caller's usual time-out, instead of timing out there.
        // No ping before each use: it would cost every request a round trip
        // of its own. A connection Postgres ended fails its next statement
        // instead, is dropped by the pool, and that request is answered
        // `unavailable` (see `error::is_unavailable`).
        let app = PgPoolOptions::new()
            .max_connections(max_connections.max(1))
            .acquire_timeout(crate::deadline::APP_ACQUIRE_TIMEOUT)
            .test_before_acquire(false)
            .connect_lazy_with(app_options);
        Ok(Self {
            owner,
            app,
            reads: Arc::default(),
            liveness: Arc::default(),
        })
    }

    /// Applies pending migrations (safe to run from several processes).
    pub async fn migrate(&self) -> anyhow::Result<()> {
        MIGRATOR
            .run(&self.owner)
            .await
            .context("applying migrations")?;
        Ok(())
    }

    /// Fails unless every migration this binary needs is applied, as this
    /// binary has it: a process must not serve a schema older than its
    /// code. Migrations the binary does not know (a newer binary's, during
    /// a rolling deploy) are fine.
    pub async fn check_migrations(&self) -> anyhow::Result<()> {
        let applied: Vec<(i64, bool, Vec<u8>)> =
            match sqlx::query_as("SELECT version, success, checksum FROM _sqlx_migrations")
                .fetch_all(&self.owner)
                .await
            {
                Ok(applied) => applied,
                // No history at all: nothing applied yet.
                Err(sqlx::Error::Database(err)) if err.code().as_deref() == Some("42P01") => {
                    Vec::new()
                }
                Err(err) => return Err(err).context("reading the applied migrations"),
            };
        let mut missing = Vec::new();
        for migration in MIGRATOR.iter() {
            match applied
                .iter()
                .find(|(version, ..)| *version == migration.version)
            {
                Some((_, true, checksum)) if checksum.as_slice() == &*migration.checksum => {}
                Some((_, true, _)) => anyhow::bail!(
                    "migration {} ({}) was applied with other contents than this olympus has: \
                     it was changed after it was applied",
                    migration.version,
                    migration.description
                ),
                _ => missing.push(migration.version.to_string()),
            }
        }
        if !missing.is_empty() {
            anyhow::bail!(
                "the database lacks migrations this olympus needs ({}): run `olympus migrate` \
                 (with the same DATABASE_URL) before `olympus serve`",
                missing.join(", ")
            );
        }
        Ok(())
    }

    /// Fails unless the roles are as [the module](self) describes: the
    /// owner can read every tenant's rows (superuser or BYPASSRLS), as the
    /// outbox relay must, or it would see no event and publish none; the
    /// request role can log in and is neither superuser nor BYPASSRLS, and
    /// owns no table.
    pub async fn check_roles(&self) -> anyhow::Result<()> {
        let (role, bypasses): (String, bool) = sqlx::query_as(
            "SELECT rolname::text, rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user",
        )
        .fetch_one(&self.owner)
        .await
        .context("checking the database role")?;
        if !bypasses {
            anyhow::bail!(
                "the database role {role:?} is neither superuser nor BYPASSRLS: the outbox relay \
                 could not read events (ALTER ROLE {role} BYPASSRLS, see README)"
            );
        }
        let (app_role, privileged, owns): (String, bool, i64) = sqlx::query_as(
            "SELECT rolname::text, rolsuper OR rolbypassrls,
                    (SELECT count(*) FROM pg_class WHERE relowner = r.oid)
               FROM pg_roles r WHERE rolname = current_user",
        )
        .fetch_one(&self.app)
        .await
        .context(
            "connecting as the request role: set OLYMPUS_APP_DATABASE_URL to a URL of an \
             unprivileged role that can log in (default: DATABASE_URL as olympus_app, no password)",
        )?;
        if privileged || owns > 0 {
            anyhow::bail!(
                "the request role {app_role:?} is superuser or BYPASSRLS, or owns tables: \
                 row-level security could not confine requests to their tenant; give \
                 OLYMPUS_APP_DATABASE_URL an unprivileged role (see README)"
            );
        }
        Ok(())
    }

    /// The owner pool, for migrations, the relay and cross-tenant
    /// housekeeping; never for a request's tenant data.
    pub fn pool(&self) -> &PgPool {
        &self.owner
    }

    /// The app pool, whose role row-level security binds.
    pub fn app_pool(&self) -> &PgPool {
        &self.app
    }

    /// Whether Postgres answers this process (see [`crate::deadline`]),
    /// as its prober finds, once [`crate::service::start`] runs one.
    pub fn liveness(&self) -> &Arc<Liveness> {
        &self.liveness
    }

    /// A transaction as the request role in no tenant yet: it sees no
    /// tenant's rows until [`enter_tenant`].
    pub async fn unscoped(&self) -> Result<Tx, sqlx::Error> {
        self.app.begin().await
    }

    /// A transaction as the request role, confined to one tenant by
    /// row-level security, on generic plans ([`GENERIC_PLANS`]). `BEGIN`
    /// and the settings go to Postgres as one simple-protocol message: one
    /// round trip (the tenant id is a UUID, so its literal needs no
    /// escaping).
    pub async fn tenant(&self, tenant_id: Uuid) -> Result<Tx, sqlx::Error> {
        self.app
            .begin_with(format!(
                "BEGIN; SELECT set_config('olympus.tenant_id', '{tenant_id}', true), \
                 {GENERIC_PLANS}"
            ))
            .await
    }

    /// [`Db::tenant`] as one consistent, read-only snapshot (`REPEATABLE
    /// READ READ ONLY`): every statement sees the data as of the first.
    /// Planned as Postgres chooses (see [`GENERIC_PLANS`]).
    pub async fn tenant_snapshot(&self, tenant_id: Uuid) -> Result<Tx, sqlx::Error> {
        self.app
            .begin_with(format!(
                "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; \
                 SELECT set_config('olympus.tenant_id', '{tenant_id}', true)"
            ))
            .await
    }

    /// A transaction as the request role that reads every tenant row (and
    /// no other tenant data): for platform administrators, whom the runtime
    /// has checked before the handler runs. One round trip, as [`Db::tenant`].
    pub async fn platform(&self) -> Result<Tx, sqlx::Error> {
        self.app
            .begin_with("BEGIN; SELECT set_config('olympus.scope', 'platform', true)")
            .await
    }

    /// The row `read` finds for `key` in tenant `tenant_id`, under
    /// row-level security, in a round trip shared with the reads of that
    /// kind other requests are waiting for (see [`crate::shared_reads`]).
    pub async fn read_shared(
        &self,
        read: &'static SharedRead,
        tenant_id: Uuid,
        key: Uuid,
    ) -> Result<Option<PgRow>, Error> {
        self.reads.read(&self.app, read, (tenant_id, key)).await
    }

    /// Probes Postgres as requests reach it (the app pool's role and
    /// address) until `stop`, for [`Db::liveness`].
    pub fn probe(&self, stop: tokio_util::sync::CancellationToken) -> tokio::task::JoinHandle<()> {
        let options = (*self.app.connect_options()).clone();
        tokio::spawn(Arc::clone(&self.liveness).probe(options, stop))
    }

    /// Closes both pools.
    pub async fn close(&self) {
        self.app.close().await;
        self.owner.close().await;
    }
}

/// Commits `tx`. When the connection fails before Postgres answers, or the
/// request's database time runs out meanwhile ([`crate::deadline`]), the
/// change may or may not have been made: [`Error::outcome_unknown`]. An
/// error Postgres answers the commit with (a deferred constraint, a
/// serialization failure) means it was not, and is mapped as any other.
/// Every commit goes through here (clippy forbids `Transaction::commit`).
pub async fn commit(tx: Tx) -> Result<(), Error> {
    #[expect(clippy::disallowed_methods, reason = "the one place that commits")]
    let committed = tx.commit();
    committing(committed).await
}

/// Runs `statement`, a write that commits by itself (a call outside any
/// transaction), and maps its failure as [`commit`] does.
pub async fn committing<T>(
    statement: impl Future<Output = Result<T, sqlx::Error>>,
) -> Result<T, Error> {
    crate::deadline::commit_sent();
    match statement.await {
        Ok(done) => Ok(done),
        Err(err) if crate::error::is_connection_lost(&err) => Err(Error::outcome_unknown(err)),
        Err(err) => Err(Error::from(err)),
    }
}

/// Whether a `scheme://user:password@host` URL carries a password.
fn has_password(url: &str) -> bool {
    url.split_once("://")
        .and_then(|(_, rest)| rest.rsplit_once('@'))
        .is_some_and(|(userinfo, _)| userinfo.contains(':'))
}

/// Sets the tenant of the current transaction (of the app pool), until it
/// ends. Statements after this see and write only that tenant's rows.
pub async fn enter_tenant(conn: &mut PgConnection, tenant_id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT set_config('olympus.tenant_id', $1, true)")
        .bind(tenant_id.to_string())
        .execute(conn)
        .await?;
    Ok(())
}
