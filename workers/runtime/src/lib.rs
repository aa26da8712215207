//! What every Olympus worker shares.
//!
//! A worker is a NATS micro service whose endpoints are plain async
//! functions, one per operation of the catalog:
//! `async fn(ctx: Ctx, request: O::Request) -> Result<O::Reply, Error>`.
//! This crate does everything around them, the same way for every worker:
//! decoding and encoding per `Content-Type`, correlation ids, bearer token
//! verification and revocation, roles, turning every [`Error`] into the
//! contract's error reply, the request's transaction under row-level
//! security, events, and draining on shutdown. What only one worker needs
//! stays in that worker (password hashing, opaque tokens and issuing access
//! tokens are the auth worker's), kept beside the app with
//! [`App::extension`] when it is state.
//!
//! # Layers
//! Each module names only modules of its own layer or a lower one, never a
//! higher one, and modules of one layer name each other without a circle
//! (`tests::modules_import_only_downward` holds them to it).
//!
//! 1. **Basics**: [`error`] ([`Error`], a contract error code plus the
//!    internal cause), [`clock`] (time as a dependency, movable in tests),
//!    [`bounds`] (reply subjects and headers a request may carry), [`text`]
//!    (names, lines and descriptions, bounded), [`phone`] (E.164),
//!    [`shutdown`] (SIGTERM/SIGINT into a cancellation token).
//! 2. **Infrastructure**: [`config`] (flags and environment variables),
//!    [`telemetry`] (tracing), [`nats`] (connecting), [`deadline`] (the
//!    bound on a request's database time, and whether Postgres answers),
//!    [`shared_reads`] (point reads concurrent requests share a round trip
//!    for), [`db`] (the pools, migrations, tenant-scoped transactions,
//!    commits), [`tokens`] (verifying access tokens, the signing keys),
//!    [`revocation`] (revoked sessions and suspended tenants, in memory),
//!    [`metrics`] (request counters).
//! 3. **Per-request machinery**: [`auth`] (bearer checks), [`roles`] (who
//!    may call an operation, against the current role), [`pages`] (page
//!    requests and cursors), [`idempotency`] (`Idempotency-Key`, stored
//!    replies), [`outbox`] (events and mail in the transaction, the relay to
//!    JetStream).
//! 4. **The app and the request context**: [`app`] ([`App`], a process's
//!    shared state), [`context`] ([`Ctx`], what one request's handler
//!    reaches, and the one way it reaches tenant data).
//! 5. **The service**: [`service`] (workers, endpoints, the request loop,
//!    replies), [`health`] (`/metrics`, `/healthz`, `/readyz`).

pub mod app;
pub mod auth;
pub mod bounds;
pub mod clock;
pub mod config;
pub mod context;
pub mod db;
pub mod deadline;
pub mod error;
pub mod health;
pub mod idempotency;
pub mod metrics;
pub mod nats;
pub mod outbox;
pub mod pages;
pub mod phone;
pub mod revocation;
pub mod roles;
pub mod service;
pub mod shared_reads;
pub mod shutdown;
pub mod telemetry;
pub mod text;
pub mod tokens;

pub use app::App;
pub use config::Config;
pub use context::{Ctx, Tx};
pub use db::Db;
pub use error::Error;
pub use service::{endpoint, Endpoint, Worker};
