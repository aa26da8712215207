//! The `olympus` command line: runs the workers, applies migrations.
//!
//! `olympus serve` runs every worker in one process (or `--workers` a
//! subset: several processes then share the queue groups); `olympus
//! migrate` applies the migrations and exits; `olympus events tail` prints
//! events for operators (and `events dead-letters` what the relay parked);
//! `olympus bench` measures latency under load; `olympus keys` manages the
//! token signing keys; `olympus admin bootstrap`
//! creates the first platform administrator; `olympus call` makes one
//! request in JSON for operators; `olympus doctor` says what is wrong
//! with a deployment and how to fix it. `olympus --help` lists every
//! setting with its environment variable. `src/main.rs` only calls
//! [`main`]; the end-to-end tests build the same entry point as a binary of
//! their own to run real processes.

mod admin;
pub mod bootstrap;
mod call;
pub mod configuration;
mod dead_letters;
mod doctor;
mod events;
mod hints;
mod keys;
pub mod migrate;

use clap::{Parser, Subcommand, ValueEnum};
use olympus_runtime::config::LogConfig;
use olympus_runtime::outbox::{self, Relay};
use olympus_runtime::{service, shutdown, telemetry, App, Config, Db, Worker};
use std::process::ExitCode;
use tokio_util::sync::CancellationToken;

/// Olympus: the auth, tenant and commerce workers of a multi-tenant
/// platform, answering NATS requests and persisting to Postgres.
#[derive(Debug, Parser)]
#[command(name = "olympus", version)]
struct Cli {
    #[command(flatten)]
    log: LogConfig,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run workers until SIGTERM/SIGINT. Logs one line when ready. The
    /// database must exist and have every migration this binary needs
    /// (`olympus migrate`); with `--migrate`, or with the default
    /// DATABASE_URL, `serve` creates and migrates it first.
    Serve {
        #[command(flatten)]
        config: Config,

        /// Create the database if it is missing and apply pending
        /// migrations before serving (development, single-process setups).
        /// Implied when DATABASE_URL is the default. Without it `serve`
        /// never creates a database, so a mistyped name stops it with an
        /// error instead of splitting the service over two databases.
        #[arg(long, env = "OLYMPUS_MIGRATE")]
        migrate: bool,

        /// Workers to run, comma-separated.
        #[arg(
            long,
            env = "OLYMPUS_WORKERS",
            value_enum,
            value_delimiter = ',',
            default_values_t = [WorkerName::Auth, WorkerName::Tenant, WorkerName::Commerce]
        )]
        workers: Vec<WorkerName>,
    },
    /// Create the database if missing, apply pending migrations, and exit.
    Migrate {
        #[command(flatten)]
        config: Config,
    },
    /// Measure latency percentiles of running workers under load.
    Bench(olympus_bench::BenchCli),
    /// Run a fault drill against a deployment: a mixed load (as `bench
    /// --mix`) while shell commands make a fault and end it, then what
    /// callers saw second by second and whether any event was lost or
    /// doubled.
    Drill(olympus_bench::DrillArgs),
    /// Call one operation with a JSON request and print the JSON reply; the
    /// token of a login is kept for later calls (exit status 1 on an error
    /// reply).
    Call(call::CallArgs),
    /// Check Postgres, migrations, roles, signing keys, NATS, the streams,
    /// the workers and the outbox; say what is wrong and what fixes it
    /// (exit status 1 when a check fails).
    Doctor {
        #[command(flatten)]
        config: Config,
    },
    /// Operator commands on accounts (`admin bootstrap`: the first
    /// platform administrator).
    Admin {
        #[command(subcommand)]
        command: admin::AdminCommand,
    },
    /// Manage the access token signing keys: list, add, activate, retire,
    /// revoke (contract §4). A rotation: `keys add`, wait 10 minutes,
    /// `keys activate KID`.
    Keys {
        #[command(subcommand)]
        command: keys::KeysCommand,
    },
    /// Read the events stream.
    Events {
        #[command(subcommand)]
        command: EventsCommand,
    },
}

#[derive(Debug, Subcommand)]
enum EventsCommand {
    /// Print events as JSON lines: new ones, or from `--since`/`--from-start`.
    Tail(events::TailArgs),
    /// List the outbox rows the relay parked because JetStream refuses them
    /// for good (JSON lines, without payloads), or `--requeue` one.
    DeadLetters(dead_letters::DeadLettersArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum WorkerName {
    Auth,
    Tenant,
    Commerce,
}

impl WorkerName {
    fn worker(self) -> Worker {
        match self {
            Self::Auth => olympus_auth::worker(),
            Self::Tenant => olympus_tenant::worker(),
            Self::Commerce => olympus_commerce::worker(),
        }
    }
}

/// Where every process reads revocations and keys, whichever workers it
/// runs: the auth worker's sessions and signing keys, the tenant worker's
/// tenants (suspended, or requiring MFA).
pub fn revocation_sources() -> olympus_runtime::revocation::Sources {
    olympus_runtime::revocation::Sources {
        revoked_sessions: olympus_auth::REVOKED_SESSIONS,
        tenants: olympus_tenant::FLAGGED_TENANTS,
        signing_keys: olympus_auth::keys::PUBLIC_KEYS,
    }
}

/// The workers' housekeeping, which the leading relay runs.
pub fn housekeeping(config: &Config) -> Vec<olympus_runtime::outbox::Prune> {
    let mut prunes = olympus_auth::housekeeping(config);
    prunes.push(olympus_tenant::audit::housekeeping(config));
    prunes
}

/// Parses the command line and runs the command.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let name = cli.command.name();
    if let Err(err) = telemetry::init(&cli.log, name != "serve") {
        eprintln!("olympus: {err:#}");
        return ExitCode::FAILURE;
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            tracing::error!(error = %err, "cannot start the async runtime");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command)) {
        Ok(()) => ExitCode::SUCCESS,
        // The workers' log is read by log collectors: one record.
        Err(err) if name == "serve" => {
            tracing::error!(
                error = format!("{err:#}"),
                "olympus serve stopped with an error"
            );
            ExitCode::FAILURE
        }
        // A command's is read by a person: what failed, and what to do.
        Err(err) => {
            eprintln!("olympus {name}: {err:#}");
            ExitCode::FAILURE
        }
    }
}

impl Command {
    /// The subcommand's name, as typed.
    fn name(&self) -> &'static str {
        match self {
            Self::Serve { .. } => "serve",
            Self::Migrate { .. } => "migrate",
            Self::Bench(_) => "bench",
            Self::Drill(_) => "drill",
            Self::Call(_) => "call",
            Self::Doctor { .. } => "doctor",
            Self::Admin { .. } => "admin",
            Self::Events { .. } => "events",
            Self::Keys { .. } => "keys",
        }
    }
}

async fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Serve {
            config,
            workers,
            migrate,
        } => serve(config, workers, migrate).await,
        Command::Migrate { config } => {
            migrated_db(&config).await?;
            tracing::info!(database = %config.database_url_redacted(), "migrations applied");
            Ok(())
        }
        Command::Bench(args) => olympus_bench::bench_cli(args).await,
        Command::Drill(args) => olympus_bench::drill(args).await,
        Command::Admin { command } => admin::run(command).await,
        Command::Keys { command } => keys::run(command).await,
        Command::Doctor { config } => {
            if doctor::run(config).await? {
                Ok(())
            } else {
                std::process::exit(1)
            }
        }
        Command::Call(args) => {
            if call::run(args).await? {
                Ok(())
            } else {
                std::process::exit(1)
            }
        }
        Command::Events {
            command: EventsCommand::Tail(args),
        } => events::tail(args).await,
        Command::Events {
            command: EventsCommand::DeadLetters(args),
        } => dead_letters::run(args).await,
    }
}

/// Warns when the NATS server is older than Olympus runs on in production
/// ([`olympus_runtime::nats::RECOMMENDED_SERVER`]); with a relay user of its
/// own (the shipped production configuration), refuses to start.
fn check_server_version(nats: &async_nats::Client, production: bool) -> anyhow::Result<()> {
    let version = nats.server_info().version;
    if olympus_runtime::nats::older_than_recommended(&version) != Some(true) {
        return Ok(());
    }
    let (major, minor, patch) = olympus_runtime::nats::RECOMMENDED_SERVER;
    let why = format!(
        "nats-server {version} is older than {major}.{minor}.{patch}, which the shipped \
         configuration needs (sync_interval) and which fixes the acknowledged-write losses \
         Jepsen found"
    );
    if production {
        anyhow::bail!("{why}: upgrade nats-server");
    }
    tracing::warn!("{why}; fine for development, not for production");
    Ok(())
}

/// The database of `config` for a one-off command: created if missing,
/// migrated, on a small pool.
async fn migrated_db(config: &Config) -> anyhow::Result<Db> {
    let db = Db::connect(
        &config.database_url,
        config.app_database_url.as_deref(),
        2,
        true,
    )
    .await?;
    migrate::migrate(&db).await?;
    Ok(db)
}

async fn serve(config: Config, mut names: Vec<WorkerName>, migrate: bool) -> anyhow::Result<()> {
    // Each worker once, however often it is named.
    let mut named = Vec::new();
    names.retain(|name| {
        let first = !named.contains(name);
        named.push(*name);
        first
    });
    let shutdown = shutdown::on_signal();
    let migrate = migrate || config.is_default_database();
    let db = Db::connect(
        &config.database_url,
        config.app_database_url.as_deref(),
        config.db_max_connections,
        migrate,
    )
    .await?;
    if migrate {
        migrate::migrate(&db).await?;
    } else {
        db.check_migrations().await?;
    }
    db.check_roles().await?;
    let nats = olympus_runtime::nats::connect(&config.nats_url, "olympus").await?;
    // Publishing events and managing streams is the relay's alone, on its
    // own connection where one is configured: the connection that answers
    // callers then needs no right beyond replying to inboxes.
    let relay_nats = match config
        .relay_nats_url
        .as_deref()
        .filter(|u| !u.trim().is_empty())
    {
        Some(url) => olympus_runtime::nats::connect(url, "olympus-relay").await?,
        None => nats.clone(),
    };
    let own_relay_user = config
        .relay_nats_url
        .as_deref()
        .is_some_and(|u| !u.trim().is_empty());
    check_server_version(&relay_nats, own_relay_user)?;
    let app = App::new(config, db, nats).await?;
    // The relay's connection answers nothing: no reply can be steered onto
    // the broadcast from it.
    app.broadcast_on(relay_nats.clone());
    let js = async_nats::jetstream::new(relay_nats.clone());
    outbox::ensure_streams(
        &js,
        app.subjects(),
        &olympus_runtime::outbox::StreamSettings::from_config(app.config()),
    )
    .await?;
    // The relay outlives the request loops, to publish what draining commits.
    let relay_stop = CancellationToken::new();
    let relay = tokio::spawn(
        Relay::new(
            app.db().pool().clone(),
            relay_nats,
            app.config().outbox_retention(),
        )
        .housekeeping(housekeeping(app.config()))
        .streams(app.subjects())
        .run(relay_stop.clone()),
    );
    if names.contains(&WorkerName::Auth) || names.contains(&WorkerName::Tenant) {
        // Before the first request rather than during it.
        olympus_auth::hashing::prepare(&app)?;
    }
    let workers = names.iter().map(|n| n.worker()).collect();
    let running = service::start(&app, workers, revocation_sources()).await?;
    let metrics_stop = CancellationToken::new();
    if let Some(addr) = app
        .config()
        .metrics_addr
        .clone()
        .filter(|a| !a.trim().is_empty())
    {
        olympus_runtime::health::serve(app.clone(), addr, metrics_stop.clone()).await?;
    }
    tracing::info!(
        workers = ?names,
        subject_prefix = app.subjects().prefix(),
        nats = %app.config().nats_url_redacted(),
        database = %app.config().database_url_redacted(),
        "olympus ready"
    );
    shutdown.cancelled().await;
    running.drain(app.config().drain_timeout()).await;
    metrics_stop.cancel();
    relay_stop.cancel();
    let _ = relay.await;
    tracing::info!("olympus stopped");
    Ok(())
}
