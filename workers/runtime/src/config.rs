//! Configuration from flags and environment variables.
//!
//! Every setting is a flag with an environment variable behind it, so
//! `olympus --help` lists them all. Defaults suit a developer machine with
//! the local Postgres and NATS; production sets at least `DATABASE_URL`,
//! `NATS_URL` and `OLYMPUS_KEY_ENCRYPTION_KEY`.

use clap::{Args, ValueEnum};
use std::time::Duration;

/// `DATABASE_URL` when unset: the local Postgres of a development machine,
/// where `olympus serve` may create and migrate its database by itself.
pub const DEFAULT_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/olympus";

/// A setting that is a secret: it reads as a string (`Deref<Target =
/// str>`), and its `Debug` shows nothing of it, so a configuration printed
/// by accident leaks no key.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretSetting(String);

impl From<String> for SecretSetting {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl std::ops::Deref for SecretSetting {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for SecretSetting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Settings shared by every worker.
#[derive(Debug, Clone, Args)]
pub struct Config {
    /// NATS server URL of the workers (requests and replies).
    #[arg(
        long,
        env = "NATS_URL",
        default_value = "nats://127.0.0.1:4222",
        hide_env_values = true
    )]
    pub nats_url: String,

    /// NATS server URL of the outbox relay (publishing events and mail,
    /// creating the streams). Unset: the relay shares `NATS_URL`'s
    /// connection. Production gives it its own user, so that the user
    /// answering callers may publish to reply inboxes only (see
    /// nats/nats-server.conf).
    #[arg(long, env = "OLYMPUS_RELAY_NATS_URL", hide_env_values = true)]
    pub relay_nats_url: Option<String>,

    /// JetStream API prefix through which the relay's NATS user reaches the
    /// subscribers' own account (nats/nats-server.conf: `$JS.subscribers.API`).
    /// Set: `serve` keeps a copy of the events stream there, of the same
    /// name, sourced from this account's through `$JS.{prefix}.API` with
    /// deliveries on `{prefix}.deliver.subscribers.>`, so that subscribers
    /// create their consumers, and JetStream delivers for them, in their
    /// account only. Unset: subscribers read the events stream itself.
    #[arg(long, env = "OLYMPUS_SUBSCRIBERS_API")]
    pub subscribers_api: Option<String>,

    /// Durable pull consumer of the mail stream that `serve` creates for the
    /// mailer (nats/nats-server.conf: `mailer`, the only consumer its account
    /// may pull from and acknowledge). Unset: none; the mailer creates its
    /// own, as on a development server.
    #[arg(long, env = "OLYMPUS_MAILER_CONSUMER")]
    pub mailer_consumer: Option<String>,

    /// Postgres URL. `migrate` creates the database if missing; `serve`
    /// only with `--migrate`, or for this default (a development machine).
    /// The role must own the schema and be superuser or BYPASSRLS (it runs
    /// migrations and cross-tenant housekeeping); tenant queries run as the
    /// unprivileged role `olympus_app`.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = DEFAULT_DATABASE_URL,
        hide_env_values = true
    )]
    pub database_url: String,

    /// Postgres URL that request handlers connect with: its role must not
    /// be superuser or BYPASSRLS and must own nothing, so that no statement
    /// (not even `RESET ROLE`) can leave the tenant's rows. Unset: the
    /// `DATABASE_URL` with the role `olympus_app` and no password, which the
    /// migrations allow to log in (enough where Postgres trusts local
    /// connections, as on a development machine).
    #[arg(long, env = "OLYMPUS_APP_DATABASE_URL", hide_env_values = true)]
    pub app_database_url: Option<String>,

    /// Prefix of every subject and stream name; lets several environments
    /// share one NATS server.
    #[arg(long, env = "OLYMPUS_SUBJECT_PREFIX", default_value = "olympus")]
    pub subject_prefix: String,

    /// Key-encryption key: 32 bytes, base64 (`openssl rand -base64 32`).
    /// The private signing keys and users' TOTP secrets are stored sealed
    /// under it, and recovery codes hashed with a key derived from it (never
    /// in plain text); only processes running the auth worker (and `olympus keys
    /// add`) need it. Never stored in Postgres. Unset: refused, except with
    /// the default DATABASE_URL (a development machine), where one is made
    /// and kept in `$XDG_DATA_HOME/olympus/key-encryption-key`.
    #[arg(long, env = "OLYMPUS_KEY_ENCRYPTION_KEY", hide_env_values = true)]
    pub key_encryption_key: Option<SecretSetting>,

    /// Revision 2's HS256 secrets (the former `OLYMPUS_JWT_KEYS`,
    /// `kid:base64-secret[,...]`), for verification only while moving to
    /// Ed25519 keys: tokens they signed before the first Ed25519 key was
    /// made stay valid until they expire. Remove it one access token
    /// lifetime after the upgrade (`olympus doctor` says when).
    #[arg(long, env = "OLYMPUS_LEGACY_HS256_KEYS", hide_env_values = true)]
    pub legacy_hs256_keys: Option<SecretSetting>,

    /// Age in days after which `olympus doctor` warns that the active
    /// signing key should be rotated.
    #[arg(long, env = "OLYMPUS_SIGNING_KEY_MAX_AGE_DAYS", default_value_t = 90)]
    pub signing_key_max_age_days: u64,

    /// The issuer authenticator apps show for a TOTP secret
    /// (`auth.mfa.totp.enroll`'s `otpauth_uri`). Unset: the tenant's name.
    #[arg(long, env = "OLYMPUS_TOTP_ISSUER")]
    pub totp_issuer: Option<String>,

    /// `iss` of access tokens; other issuers are rejected.
    #[arg(long, env = "OLYMPUS_JWT_ISSUER", default_value = "olympus")]
    pub jwt_issuer: String,

    /// `aud` of access tokens; other audiences are rejected.
    #[arg(long, env = "OLYMPUS_JWT_AUDIENCE", default_value = "olympus")]
    pub jwt_audience: String,

    /// Access token lifetime in seconds.
    #[arg(long, env = "OLYMPUS_ACCESS_TOKEN_TTL", default_value_t = 3600)]
    pub access_token_ttl: u64,

    /// Refresh token (session) lifetime in seconds.
    #[arg(long, env = "OLYMPUS_REFRESH_TOKEN_TTL", default_value_t = 2_592_000)]
    pub refresh_token_ttl: u64,

    /// Consecutive wrong passwords (failed logins, and wrong current
    /// passwords given to operations that ask for one) that lock an account.
    #[arg(long, env = "OLYMPUS_LOCKOUT_THRESHOLD", default_value_t = 5)]
    pub lockout_threshold: u32,

    /// Seconds an account stays locked after too many failed logins.
    #[arg(long, env = "OLYMPUS_LOCKOUT_SECS", default_value_t = 1800)]
    pub lockout_secs: u64,

    /// Failed logins one client address (`X-Client-Ip`) may make per
    /// minute; beyond, its logins get `rate_limited`.
    #[arg(long, env = "OLYMPUS_LOGIN_FAILURES_PER_MINUTE", default_value_t = 30)]
    pub login_failures_per_minute: u32,

    /// Mails one recipient address may get per hour (from all tenants); beyond,
    /// `request_password_reset` sends nothing and `resend_verification` is
    /// `rate_limited`.
    #[arg(long, env = "OLYMPUS_MAIL_LIMIT_PER_HOUR", default_value_t = 5)]
    pub mail_limit_per_hour: u32,

    /// Password hashes computed at once (each takes one core for tens of
    /// milliseconds, and its thread keeps one block of the configured
    /// memory). Default: the number of cores.
    #[arg(long, env = "OLYMPUS_ARGON2_CONCURRENCY")]
    pub argon2_concurrency: Option<usize>,

    /// Argon2id cost of new password hashes: one of OWASP's five minimum
    /// configurations, rated equal, trading memory (KiB) for passes.
    /// Choose by measuring logins (`olympus bench --op login`): on a
    /// two-core machine with a 32 MiB last-level cache, the default's two
    /// 7 MiB blocks side by side logged in fastest. Hashes stored with
    /// other parameters keep verifying, and a login that verifies one
    /// stores it anew with these.
    #[arg(
        long,
        env = "OLYMPUS_ARGON2_PARAMS",
        value_enum,
        default_value_t = Argon2Params::DEFAULT
    )]
    pub argon2_params: Argon2Params,

    /// Password hashes that may wait for one of the hashing slots; when
    /// that many wait, further logins and signups of a tenant or client
    /// address holding its share of the places (and all of them, once
    /// twice as many hold places) are answered at once with `unavailable`
    /// (and `details.retry_after_secs`) instead of queueing.
    #[arg(long, env = "OLYMPUS_ARGON2_QUEUE", default_value_t = 64)]
    pub argon2_queue: usize,

    /// Address of the metrics and health port (`/metrics`, `/healthz`,
    /// `/readyz`), e.g. `127.0.0.1:9090`; none when unset.
    #[arg(long, env = "OLYMPUS_METRICS_ADDR")]
    pub metrics_addr: Option<String>,

    /// Requests handled at once per process; beyond that NATS buffers them.
    /// One operation may hold at most half of them, shared among the
    /// tenants asking: beyond a tenant's share, its requests are answered
    /// `unavailable`.
    #[arg(long, env = "OLYMPUS_MAX_IN_FLIGHT", default_value_t = 512)]
    pub max_in_flight: usize,

    /// Requests a second each tenant may send to this process, all bearer
    /// operations together (a token bucket per tenant, in each process: N
    /// processes let a tenant send up to N times as many); beyond it,
    /// `rate_limited` with `retry_after_secs`. 0: no limit. A tenant given
    /// a rate of its own (`olympus admin tenant-rate`) has that instead.
    #[arg(long, env = "OLYMPUS_TENANT_RATE", default_value_t = 0)]
    pub tenant_rate: u32,

    /// Requests a tenant may send at once above its rate (the bucket's
    /// size); 0: one second's worth.
    #[arg(long, env = "OLYMPUS_TENANT_BURST", default_value_t = 0)]
    pub tenant_burst: u32,

    /// Reply subject prefixes that requests may name, comma-separated. A
    /// request whose reply subject starts with none of them, or holds a
    /// wildcard, is dropped unanswered: a caller cannot make a worker
    /// publish elsewhere (a JetStream API subject, an event subject) with
    /// its credentials. Each prefix ends with `.`.
    #[arg(
        long,
        env = "OLYMPUS_REPLY_PREFIXES",
        value_delimiter = ',',
        default_value = olympus_contracts::headers::DEFAULT_REPLY_PREFIX
    )]
    pub reply_prefixes: Vec<String>,

    /// Postgres connections per process.
    #[arg(long, env = "OLYMPUS_DB_MAX_CONNECTIONS", default_value_t = 16)]
    pub db_max_connections: u32,

    /// Seconds the events stream keeps events (`{PREFIX}_EVENTS` max age).
    #[arg(long, env = "OLYMPUS_EVENTS_MAX_AGE", default_value_t = 2_592_000)]
    pub events_max_age: u64,

    /// Replicas of both streams: 1 on one server, 3 on a 3-node cluster
    /// (nats/cluster/); applied when `serve` creates or updates them.
    #[arg(long, env = "OLYMPUS_STREAM_REPLICAS", default_value_t = 1)]
    pub stream_replicas: usize,

    /// Seconds published outbox rows are kept before they are pruned.
    #[arg(long, env = "OLYMPUS_OUTBOX_RETENTION", default_value_t = 86_400)]
    pub outbox_retention: u64,

    /// Days the tenants' audit log (`tenant.audit.list`) keeps an event,
    /// whatever the events stream keeps.
    #[arg(long, env = "OLYMPUS_AUDIT_RETENTION_DAYS", default_value_t = 365)]
    pub audit_retention_days: u64,

    /// Seconds ended (revoked or expired) sessions are kept before they are
    /// pruned; at least the access token lifetime plus a minute.
    #[arg(long, env = "OLYMPUS_SESSION_RETENTION", default_value_t = 604_800)]
    pub session_retention: u64,

    /// Seconds to finish in-flight requests after SIGTERM/SIGINT.
    #[arg(long, env = "OLYMPUS_SHUTDOWN_TIMEOUT", default_value_t = 30)]
    pub shutdown_timeout: u64,
}

impl Config {
    /// Whether `DATABASE_URL` is [`DEFAULT_DATABASE_URL`].
    pub fn is_default_database(&self) -> bool {
        self.database_url == DEFAULT_DATABASE_URL
    }

    /// The access token lifetime.
    pub fn access_ttl(&self) -> Duration {
        Duration::from_secs(self.access_token_ttl)
    }

    /// The refresh token lifetime.
    pub fn refresh_ttl(&self) -> Duration {
        Duration::from_secs(self.refresh_token_ttl)
    }

    /// How long to wait for in-flight requests on shutdown.
    pub fn drain_timeout(&self) -> Duration {
        Duration::from_secs(self.shutdown_timeout)
    }

    /// How long ended sessions are kept: never less than an access token
    /// lives (a process starting later learns of revocations from them).
    pub fn session_retention(&self) -> Duration {
        Duration::from_secs(self.session_retention.max(self.access_token_ttl + 60))
    }

    /// How long the audit log keeps an event.
    pub fn audit_retention(&self) -> Duration {
        Duration::from_secs(self.audit_retention_days.saturating_mul(86_400))
    }

    /// How long published outbox rows are kept.
    pub fn outbox_retention(&self) -> Duration {
        Duration::from_secs(self.outbox_retention)
    }

    /// The NATS URL without credentials (user:password or a token), for logs.
    pub fn nats_url_redacted(&self) -> String {
        redact_url_credentials(&self.nats_url)
    }

    /// The database URL without its password, for logs.
    pub fn database_url_redacted(&self) -> String {
        redact_url(&self.database_url)
    }
}

/// OWASP's minimum Argon2id configurations (Password Storage Cheat Sheet),
/// all with parallelism 1; none weaker can be configured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Argon2Params {
    /// 46 MiB, one pass.
    #[value(name = "m47104-t1")]
    M47104T1,
    /// 19 MiB, two passes (Olympus' default until 2026-12-03).
    #[value(name = "m19456-t2")]
    M19456T2,
    /// 12 MiB, three passes (Olympus' default on 2026-12-03).
    #[value(name = "m12288-t3")]
    M12288T3,
    /// 9 MiB, four passes.
    #[value(name = "m9216-t4")]
    M9216T4,
    /// 7 MiB, five passes (the default).
    #[value(name = "m7168-t5")]
    M7168T5,
}

impl Argon2Params {
    /// The default: on the two-core machines Olympus is measured on, the
    /// most logins per second and the least memory (docs/performance.md).
    pub const DEFAULT: Self = Self::M7168T5;

    /// All of them, from the most memory to the most passes.
    pub const ALL: [Self; 5] = [
        Self::M47104T1,
        Self::M19456T2,
        Self::M12288T3,
        Self::M9216T4,
        Self::M7168T5,
    ];

    /// Memory cost in KiB.
    pub fn memory_kib(self) -> u32 {
        match self {
            Self::M47104T1 => 47_104,
            Self::M19456T2 => 19_456,
            Self::M12288T3 => 12_288,
            Self::M9216T4 => 9_216,
            Self::M7168T5 => 7_168,
        }
    }

    /// Passes over the memory.
    pub fn passes(self) -> u32 {
        match self {
            Self::M47104T1 => 1,
            Self::M19456T2 => 2,
            Self::M12288T3 => 3,
            Self::M9216T4 => 4,
            Self::M7168T5 => 5,
        }
    }

    /// Lanes: always 1.
    pub fn parallelism(self) -> u32 {
        1
    }
}

impl std::fmt::Display for Argon2Params {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "m={},t={},p={}",
            self.memory_kib(),
            self.passes(),
            self.parallelism()
        )
    }
}

/// Log output settings.
#[derive(Debug, Clone, Args)]
pub struct LogConfig {
    /// Log format: `text` for people, `json` for log collectors.
    #[arg(long, env = "OLYMPUS_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text, global = true)]
    pub log_format: LogFormat,

    /// Log filter, e.g. `info` or `olympus_runtime=debug,info`.
    #[arg(long, env = "OLYMPUS_LOG", default_value = "info", global = true)]
    pub log: String,
}

/// Where a command other than `serve` finds the workers: `olympus call`,
/// `events tail`, `bench`, `drill`.
#[derive(Debug, Clone, Args)]
pub struct Mesh {
    /// NATS server URL (several, comma-separated, for a cluster).
    #[arg(
        long,
        env = "NATS_URL",
        default_value = "nats://127.0.0.1:4222",
        hide_env_values = true
    )]
    pub nats_url: String,

    /// Prefix of every subject and stream name.
    #[arg(long, env = "OLYMPUS_SUBJECT_PREFIX", default_value = "olympus")]
    pub subject_prefix: String,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// Replaces the password of `scheme://user:password@host/...` with `***`.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let Some((userinfo, host)) = rest.rsplit_once('@') else {
        return url.to_owned();
    };
    match userinfo.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_owned(),
    }
}

/// The comma-separated pieces of a NATS URL, one per server: a piece
/// without a scheme that holds an `@` is the rest of the one before (a
/// password with a comma in it), so give each server its scheme when
/// credentials follow it.
pub(crate) fn nats_url_pieces(url: &str) -> Vec<String> {
    let mut pieces: Vec<String> = Vec::new();
    for piece in url.split(',') {
        match pieces.last_mut() {
            Some(last) if !piece.contains("://") && piece.contains('@') => {
                last.push(',');
                last.push_str(piece);
            }
            _ => pieces.push(piece.to_owned()),
        }
    }
    pieces
        .into_iter()
        .map(|piece| piece.trim().to_owned())
        .filter(|piece| !piece.is_empty())
        .collect()
}

/// Replaces all of `user:password@` or `token@` with `***@` (NATS URLs may
/// carry a bare token where a user name would be).
pub fn redact_url_credentials(url: &str) -> String {
    // A NATS URL may list several servers, separated by commas (a password
    // may hold one too): everything before each server's `@` goes.
    nats_url_pieces(url)
        .iter()
        .map(|one| {
            let (scheme, rest) = one
                .split_once("://")
                .map_or(("", one.as_str()), |(s, r)| (s, r));
            match (rest.rsplit_once('@'), scheme) {
                (Some((_, host)), "") => format!("***@{host}"),
                (Some((_, host)), scheme) => format!("{scheme}://***@{host}"),
                (None, _) => one.clone(),
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_settings_are_read_but_never_printed() {
        #[derive(Debug, clap::Parser)]
        struct Cli {
            #[command(flatten)]
            config: Config,
        }
        let kek = "c2VjcmV0LWtleS1lbmNyeXB0aW9uLWtleS0wMDAwMDA=";
        let cli = <Cli as clap::Parser>::try_parse_from([
            "olympus",
            "--key-encryption-key",
            kek,
            "--legacy-hs256-keys",
            "r2:c2VjcmV0",
        ])
        .unwrap();
        assert_eq!(cli.config.key_encryption_key.as_deref(), Some(kek));
        let printed = format!("{cli:?}");
        assert!(
            !printed.contains(kek) && !printed.contains("c2VjcmV0"),
            "{printed}"
        );
        assert!(printed.contains("[redacted]"));
    }

    #[test]
    fn argon2_configurations_are_named_by_their_memory_and_passes() {
        for params in Argon2Params::ALL {
            let name = format!("m{}-t{}", params.memory_kib(), params.passes());
            assert_eq!(Argon2Params::from_str(&name, false), Ok(params));
            // OWASP's trade: a pass fewer for each step up in memory, with
            // none below 7 MiB.
            assert!(params.memory_kib() >= 7_168);
        }
        assert_eq!(
            Argon2Params::value_variants().len(),
            Argon2Params::ALL.len()
        );
        assert!(Argon2Params::from_str("m1024-t1", false).is_err());
    }

    #[test]
    fn passwords_are_redacted_from_urls() {
        assert_eq!(
            redact_url("postgres://app:s3cret@db:5432/olympus"),
            "postgres://app:***@db:5432/olympus"
        );
        assert_eq!(
            redact_url("postgres://postgres@127.0.0.1/olympus"),
            "postgres://postgres@127.0.0.1/olympus"
        );
        assert_eq!(redact_url("nats://127.0.0.1:4222"), "nats://127.0.0.1:4222");
        assert_eq!(
            redact_url_credentials("nats://s3cr3t-token@nats:4222"),
            "nats://***@nats:4222"
        );
        assert_eq!(
            redact_url_credentials("nats://olympus:pw@nats:4222"),
            "nats://***@nats:4222"
        );
        assert_eq!(
            redact_url_credentials("nats://127.0.0.1:4222"),
            "nats://127.0.0.1:4222"
        );
        assert_eq!(
            redact_url_credentials("nats://u:pw@a:4222,nats://u:pw@b:4223"),
            "nats://***@a:4222,nats://***@b:4223"
        );
        let comma = redact_url_credentials("nats://u:pa,ss@h:4222");
        assert!(!comma.contains("pa") && !comma.contains("ss@"), "{comma}");
        // A server without a scheme after one with: read as one, hidden.
        assert_eq!(
            redact_url_credentials("nats://a:4222,u:pw@b:4222"),
            "nats://***@b:4222"
        );
    }
}
