//! [`TestApp`]: one test's database, subject prefix and in-process workers.

use futures::FutureExt;
use olympus_contracts::Subjects;
use olympus_runtime::clock::TestClock;
use olympus_runtime::config::Argon2Params;
use olympus_runtime::outbox::{self, Relay};
use olympus_runtime::service::{self, Running};
use olympus_runtime::{App, Config, Db};
use sqlx::Connection;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Mutex;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::infra::{with_database, Infra};

/// The key-encryption key of test processes: 32 known bytes.
pub const TEST_KEY_ENCRYPTION_KEY: &str = "b2x5bXB1cy1lMmUta2V5LWVuY3J5cHRpb24ta2V5LTA=";

/// What a test may change about its app.
#[derive(Debug, Clone)]
pub struct Options {
    /// Start the auth and tenant workers in-process.
    pub workers: bool,
    /// Password hashes at once (default 2).
    pub argon2_concurrency: usize,
    /// Password hashes waiting at most (default 64).
    pub argon2_queue: usize,
    /// Argon2id cost of new hashes (default: the servers' default).
    pub argon2_params: Argon2Params,
    /// Consecutive failed logins that lock an account (default 5).
    pub lockout_threshold: u32,
    /// The key-encryption key (default [`TEST_KEY_ENCRYPTION_KEY`]).
    pub key_encryption_key: Option<String>,
    /// Revision 2's HS256 keys, still verifying (default none).
    pub legacy_hs256_keys: Option<String>,
    /// `OLYMPUS_TOTP_ISSUER`: the issuer of TOTP secrets' URIs.
    pub totp_issuer: Option<String>,
    /// Run an outbox relay in-process (as `serve` does).
    pub relay: bool,
    /// `OLYMPUS_TENANT_RATE` and `OLYMPUS_TENANT_BURST` (default none).
    pub tenant_rate: (u32, u32),
}

impl Default for Options {
    fn default() -> Self {
        Self {
            workers: true,
            argon2_concurrency: 2,
            argon2_queue: 64,
            argon2_params: Argon2Params::DEFAULT,
            lockout_threshold: 5,
            key_encryption_key: Some(TEST_KEY_ENCRYPTION_KEY.to_owned()),
            legacy_hs256_keys: None,
            totp_issuer: None,
            relay: true,
            tenant_rate: (0, 0),
        }
    }
}

impl Options {
    /// No in-process relay: the test runs its own (or a process does).
    pub fn without_relay() -> Self {
        Self {
            relay: false,
            ..Self::default()
        }
    }

    /// No in-process workers: the test starts `olympus serve` processes.
    pub fn without_workers() -> Self {
        Self {
            workers: false,
            ..Self::default()
        }
    }
}

/// An outbox relay running in the test process.
pub struct TestRelay {
    stop: CancellationToken,
    task: JoinHandle<()>,
}

impl TestRelay {
    /// A relay on `db` publishing through `nats`.
    pub fn start(db: &Db, nats: &async_nats::Client, retention: Duration) -> Self {
        Self::start_relay(Relay::new(db.pool().clone(), nats.clone(), retention))
    }

    /// A relay as `serve` runs it: with the workers' housekeeping.
    pub fn start_as_serve(db: &Db, nats: &async_nats::Client, config: &Config) -> Self {
        Self::start_relay(
            Relay::new(db.pool().clone(), nats.clone(), config.outbox_retention())
                .housekeeping(olympus::housekeeping(config))
                .streams(&olympus_contracts::Subjects::new(&config.subject_prefix).unwrap()),
        )
    }

    /// Runs `relay`.
    pub fn start_relay(relay: Relay) -> Self {
        let stop = CancellationToken::new();
        Self {
            task: tokio::spawn(relay.run(stop.clone())),
            stop,
        }
    }

    /// Stops it (as on shutdown) and waits until it has.
    pub async fn stop(self) {
        self.stop.cancel();
        let _ = self.task.await;
    }

    /// Ends it where it stands, as a killed process would: nothing more
    /// reaches Postgres or NATS, its connections close.
    pub async fn kill(self) {
        self.task.abort();
        let _ = self.task.await;
    }
}

/// One test's Olympus.
pub struct TestApp {
    pub prefix: String,
    pub subjects: Subjects,
    pub nats: async_nats::Client,
    /// The owner pool of the test database.
    pub db: Db,
    pub app: App,
    /// The in-process workers' clock: [`TestClock::advance`] moves time.
    pub clock: Arc<TestClock>,
    pub database_url: String,
    pub nats_url: String,
    pub options: Options,
    running: Mutex<Option<Running>>,
    relay: Mutex<Option<TestRelay>>,
    database: String,
    admin_url: String,
    _infra: Infra,
}

/// Runs `test` against a fresh app, then cleans up, pass or fail.
pub async fn with_app(test: impl AsyncFnOnce(&TestApp)) {
    with_app_opts(Options::default(), test).await;
}

/// [`with_app`] with options.
pub async fn with_app_opts(options: Options, test: impl AsyncFnOnce(&TestApp)) {
    let app = TestApp::spawn(options).await;
    let outcome = AssertUnwindSafe(test(&app)).catch_unwind().await;
    app.cleanup().await;
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

impl TestApp {
    /// Creates and migrates a database, picks a prefix, starts the workers.
    pub async fn spawn(options: Options) -> Self {
        if std::env::var_os("OLYMPUS_TEST_LOG").is_some() {
            let _ = olympus_runtime::telemetry::init(
                &olympus_runtime::config::LogConfig {
                    log_format: olympus_runtime::config::LogFormat::Text,
                    log: "warn".into(),
                },
                false,
            );
        }
        let infra = Infra::get().await;
        let id = Uuid::new_v4().simple().to_string();
        let database = format!("olympus_test_{id}");
        let prefix = format!("t{}", &id[..12]);
        let admin_url = infra.admin_database_url.clone();
        let mut admin = connect_admin(&admin_url).await;
        sqlx::query(&format!(r#"CREATE DATABASE "{database}""#))
            .execute(&mut admin)
            .await
            .expect("creating the test database");
        admin.close().await.ok();
        let database_url = with_database(&admin_url, &database);
        let db = Db::connect(&database_url, None, 8, false)
            .await
            .expect("connecting to the test database");
        db.migrate().await.expect("migrating the test database");
        let nats = async_nats::connect(&infra.nats_url)
            .await
            .expect("connecting to NATS");
        let config = test_config(&database_url, &infra.nats_url, &prefix, &options);
        let clock = Arc::new(TestClock::default());
        let app = App::with_clock(config, db.clone(), nats.clone(), clock.clone())
            .await
            .expect("building the app");
        let js = async_nats::jetstream::new(nats.clone());
        outbox::ensure_streams(
            &js,
            app.subjects(),
            &olympus_runtime::outbox::StreamSettings::from_config(app.config()),
        )
        .await
        .expect("creating the streams");
        let relay = options
            .relay
            .then(|| TestRelay::start_as_serve(&db, &nats, app.config()));
        let running = if options.workers {
            olympus_auth::hashing::prepare(&app).expect("building the password hasher");
            Some(
                service::start(
                    &app,
                    vec![
                        olympus_auth::worker(),
                        olympus_tenant::worker(),
                        olympus_commerce::worker(),
                    ],
                    olympus::revocation_sources(),
                )
                .await
                .expect("starting the workers"),
            )
        } else {
            None
        };
        Self {
            subjects: Subjects::new(&prefix).expect("valid prefix"),
            prefix,
            nats,
            db,
            app,
            clock,
            database_url,
            nats_url: infra.nats_url.clone(),
            options,
            running: Mutex::new(running),
            relay: Mutex::new(relay),
            database,
            admin_url,
            _infra: infra,
        }
    }

    /// The configuration a process of this test uses.
    pub fn config(&self) -> Config {
        test_config(
            &self.database_url,
            &self.nats_url,
            &self.prefix,
            &self.options,
        )
    }

    /// The active signing key's id and private key, opened with this
    /// test's key-encryption key: for tests that forge tokens.
    pub async fn signing_key(&self) -> (String, jsonwebtoken::EncodingKey) {
        let kid: String = sqlx::query_scalar("SELECT kid FROM signing_keys WHERE state = 'active'")
            .fetch_one(self.db.pool())
            .await
            .expect("an active signing key");
        let kek = olympus_auth::keys::Kek::parse(
            self.options
                .key_encryption_key
                .as_deref()
                .expect("a key-encryption key"),
        )
        .expect("the test's key-encryption key");
        let key = olympus_auth::keys::open_stored(self.db.pool(), &kek, &kid)
            .await
            .expect("opening the active signing key");
        (kid, key)
    }

    /// Drains the in-process workers (as on SIGTERM).
    pub async fn stop_workers(&self) {
        if let Some(running) = self.running.lock().await.take() {
            running.drain(Duration::from_secs(30)).await;
        }
    }

    /// Stops the in-process relay.
    pub async fn stop_relay(&self) {
        if let Some(relay) = self.relay.lock().await.take() {
            relay.stop().await;
        }
    }

    /// Stops the workers, deletes the prefix's streams, drops the database.
    pub async fn cleanup(self) {
        self.stop_workers().await;
        self.stop_relay().await;
        let js = async_nats::jetstream::new(self.nats.clone());
        for stream in [self.subjects.events_stream(), self.subjects.mail_stream()] {
            let _ = js.delete_stream(&stream).await;
        }
        self.db.close().await;
        let mut admin = connect_admin(&self.admin_url).await;
        if let Err(err) = sqlx::query(&format!(
            r#"DROP DATABASE IF EXISTS "{}" WITH (FORCE)"#,
            self.database
        ))
        .execute(&mut admin)
        .await
        {
            eprintln!("could not drop test database {}: {err}", self.database);
        }
        admin.close().await.ok();
    }
}

async fn connect_admin(url: &str) -> sqlx::PgConnection {
    sqlx::PgConnection::connect(url)
        .await
        .unwrap_or_else(|e| panic!("connecting to Postgres ({url}): {e}"))
}

fn test_config(database_url: &str, nats_url: &str, prefix: &str, options: &Options) -> Config {
    Config {
        nats_url: nats_url.to_owned(),
        relay_nats_url: None,
        subscribers_api: None,
        mailer_consumer: None,
        database_url: database_url.to_owned(),
        subject_prefix: prefix.to_owned(),
        app_database_url: None,
        key_encryption_key: options.key_encryption_key.clone().map(Into::into),
        legacy_hs256_keys: options.legacy_hs256_keys.clone().map(Into::into),
        signing_key_max_age_days: 90,
        totp_issuer: options.totp_issuer.clone(),
        jwt_issuer: "olympus".to_owned(),
        jwt_audience: "olympus".to_owned(),
        access_token_ttl: 3600,
        refresh_token_ttl: 2_592_000,
        argon2_concurrency: Some(options.argon2_concurrency),
        argon2_queue: options.argon2_queue,
        argon2_params: options.argon2_params,
        lockout_threshold: options.lockout_threshold,
        lockout_secs: 1800,
        mail_limit_per_hour: 5,
        login_failures_per_minute: 30,
        max_in_flight: 256,
        tenant_rate: options.tenant_rate.0,
        tenant_burst: options.tenant_rate.1,
        metrics_addr: None,
        reply_prefixes: vec!["_INBOX.".to_owned()],
        db_max_connections: 8,
        shutdown_timeout: 30,
        events_max_age: 3600,
        stream_replicas: 1,
        audit_retention_days: 365,
        outbox_retention: 3600,
        session_retention: 604_800,
    }
}
