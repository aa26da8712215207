//! [`App`]: a process's shared state: configuration, connections, access
//! tokens, revocations, metrics and what workers keep beside it. Handlers
//! reach it through their request context ([`crate::context::Ctx::app`]).

use anyhow::Context;
use olympus_contracts::Subjects;
use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::sync::{Arc, OnceLock, RwLock};
use tokio_util::task::TaskTracker;

use crate::bounds::ReplyPrefixes;
use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::db::Db;
use crate::revocation::Revocations;
use crate::tokens::{self, AccessTokens};

/// Shared state of a process: cheap to clone, handed to every handler.
#[derive(Clone, Debug)]
pub struct App(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    config: Config,
    db: Db,
    nats: async_nats::Client,
    /// Where revocations are broadcast, when not on `nats` (see
    /// [`App::broadcast_on`]).
    broadcast: OnceLock<async_nats::Client>,
    subjects: Subjects,
    reply_prefixes: ReplyPrefixes,
    tokens: AccessTokens,
    /// State kept by workers beside the app (see [`App::extension`]).
    extensions: RwLock<HashMap<TypeId, Arc<dyn Any + Send + Sync>>>,
    clock: Arc<dyn Clock>,
    revocations: Arc<Revocations>,
    metrics: crate::metrics::Metrics,
    background: TaskTracker,
}

impl App {
    /// Builds the state from connected resources. The signing keys' public
    /// halves are read with the revocations, once the workers start
    /// ([`crate::service::start`]).
    pub async fn new(config: Config, db: Db, nats: async_nats::Client) -> anyhow::Result<Self> {
        Self::with_clock(config, db, nats, Arc::new(SystemClock)).await
    }

    /// [`App::new`] with another clock (tests move time with a
    /// [`crate::clock::TestClock`]).
    pub async fn with_clock(
        config: Config,
        db: Db,
        nats: async_nats::Client,
        clock: Arc<dyn Clock>,
    ) -> anyhow::Result<Self> {
        let subjects = Subjects::new(&config.subject_prefix)?;
        let reply_prefixes =
            ReplyPrefixes::new(&config.reply_prefixes).context("reading OLYMPUS_REPLY_PREFIXES")?;
        // An empty value (as compose files pass through) means unset.
        let legacy = match config
            .legacy_hs256_keys
            .as_deref()
            .filter(|v| !v.trim().is_empty())
        {
            Some(value) => {
                let keys = tokens::parse_legacy_keys(value)
                    .context("reading OLYMPUS_LEGACY_HS256_KEYS")?;
                tracing::warn!(
                    "OLYMPUS_LEGACY_HS256_KEYS is set: HS256 tokens issued before the move to \
                     Ed25519 keys are accepted until they expire; remove it one access token \
                     lifetime after the upgrade"
                );
                keys
            }
            None => Vec::new(),
        };
        if std::env::var("OLYMPUS_JWT_KEYS").is_ok_and(|v| !v.trim().is_empty()) {
            tracing::warn!(
                "OLYMPUS_JWT_KEYS is no longer read: access tokens are signed with Ed25519 keys \
                 kept in the database (olympus keys list). To accept the tokens its secrets \
                 signed until they expire, set the same value as OLYMPUS_LEGACY_HS256_KEYS"
            );
        }
        let access_ttl = config.access_ttl();
        let tokens = AccessTokens::new(
            &config.jwt_issuer,
            &config.jwt_audience,
            config.access_ttl(),
            legacy,
        )?;
        let rates = crate::fairness::Rates::new(config.tenant_rate, config.tenant_burst);
        Ok(Self(Arc::new(Inner {
            config,
            db,
            nats,
            broadcast: OnceLock::new(),
            subjects,
            reply_prefixes,
            tokens,
            extensions: RwLock::default(),
            clock,
            revocations: Arc::new(Revocations::new(access_ttl, rates)),
            metrics: crate::metrics::Metrics::default(),
            background: TaskTracker::new(),
        })))
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.0.config
    }

    /// The database.
    pub fn db(&self) -> &Db {
        &self.0.db
    }

    /// The NATS connection.
    pub fn nats(&self) -> &async_nats::Client {
        &self.0.nats
    }

    /// Broadcasts revocations on `client` rather than on the connection
    /// that answers requests. `serve` passes the relay's, which answers
    /// nothing: the micro library answers `$SRV` requests on any reply
    /// subject, so only a user that may not publish the broadcast keeps a
    /// caller from steering a reply onto it (nats/nats-server.conf). Only
    /// the first call counts.
    pub fn broadcast_on(&self, client: async_nats::Client) {
        let _ = self.0.broadcast.set(client);
    }

    /// The connection revocations are broadcast on.
    pub(crate) fn broadcaster(&self) -> &async_nats::Client {
        self.0.broadcast.get().unwrap_or(&self.0.nats)
    }

    /// Subject names under the configured prefix.
    pub fn subjects(&self) -> &Subjects {
        &self.0.subjects
    }

    /// The reply subjects requests may name.
    pub fn reply_prefixes(&self) -> &ReplyPrefixes {
        &self.0.reply_prefixes
    }

    /// Access token verification, and the published key set.
    pub fn tokens(&self) -> &AccessTokens {
        &self.0.tokens
    }

    /// Work started after replies (see [`crate::context::Ctx::after_reply`]).
    pub fn background(&self) -> &TaskTracker {
        &self.0.background
    }

    /// The current time, from the app's clock: what every rule about time
    /// compares with (bind it into SQL rather than calling `now()` there).
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.0.clock.now()
    }

    /// What this process knows of revoked sessions and suspended tenants.
    pub fn revocations(&self) -> &Arc<Revocations> {
        &self.0.revocations
    }

    /// The app's clock.
    pub fn clock(&self) -> &dyn Clock {
        &*self.0.clock
    }

    /// The app's clock, to keep.
    pub fn shared_clock(&self) -> Arc<dyn Clock> {
        Arc::clone(&self.0.clock)
    }

    /// Checks an access token as a bearer request's is checked (see
    /// [`crate::auth`]): its claims when it is valid and its session live.
    pub fn check_token(&self, token: &str) -> Result<crate::tokens::Claims, crate::Error> {
        crate::auth::check(self.tokens(), self.revocations(), self.now(), token)
    }

    /// Records sessions revoked (after their commit) and tells every other
    /// process; a lost broadcast is caught up by their next read of
    /// Postgres (see [`crate::revocation`]).
    pub async fn announce_revoked(&self, sessions: &[uuid::Uuid]) {
        if sessions.is_empty() {
            return;
        }
        let revoked_at = self.now();
        self.revocations().record(sessions, revoked_at);
        crate::revocation::broadcast(self.broadcaster(), self.subjects(), sessions, revoked_at)
            .await;
    }

    /// The request counters (see [`crate::metrics`]).
    pub fn metrics(&self) -> &crate::metrics::Metrics {
        &self.0.metrics
    }

    /// Process-wide state a worker keeps beside the app, one value per
    /// type (the auth worker's password hasher): made by `init` the first
    /// time it is asked for, then shared. A process that never runs that
    /// worker never makes it.
    pub fn extension<T: Any + Send + Sync>(
        &self,
        init: impl FnOnce(&App) -> anyhow::Result<T>,
    ) -> anyhow::Result<Arc<T>> {
        let key = TypeId::of::<T>();
        let found = self
            .0
            .extensions
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
            .cloned();
        let value = match found {
            Some(value) => value,
            None => {
                let mut extensions = self.0.extensions.write().unwrap_or_else(|e| e.into_inner());
                match extensions.get(&key) {
                    Some(value) => Arc::clone(value),
                    None => {
                        let value: Arc<dyn Any + Send + Sync> = Arc::new(init(self)?);
                        extensions.insert(key, Arc::clone(&value));
                        value
                    }
                }
            }
        };
        value
            .downcast::<T>()
            .map_err(|_| anyhow::anyhow!("an app extension is stored under another type"))
    }
}
