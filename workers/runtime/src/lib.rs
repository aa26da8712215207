//! What every Olympus worker shares.
//!
//! A worker is a NATS micro service whose endpoints are plain async
//! functions: `async fn(App, Call<Request>) -> Result<Reply, Error>`. This
//! crate does everything around them, the same way for every worker:
//! decoding and encoding per `Content-Type`, correlation ids, bearer token
//! verification and revocation, roles, turning every [`Error`] into the
//! contract's error reply, Postgres with row-level security, events, and
//! draining on shutdown. What only one worker needs stays in that worker
//! (password hashing, opaque tokens and issuing access tokens are the auth
//! worker's), kept beside the app with [`App::extension`] when it is state.
//!
//! # Layout
//! - [`config`]: flags and environment variables (clap).
//! - [`clock`]: time as a dependency, movable in tests.
//! - [`app`]: [`App`], the shared state handed to every handler.
//! - [`auth`]: bearer token and session checks for B operations.
//! - [`bounds`]: reply subjects and headers a request may carry.
//! - [`service`]: workers, endpoints, the request loop and replies.
//! - [`call`]: [`Call`] and [`Meta`], what a handler receives.
//! - [`error`]: [`Error`], a contract error code plus the internal cause.
//! - [`nats`]: connecting with the credentials of a NATS URL.
//! - [`db`]: the pool, embedded migrations, tenant-scoped transactions, commits.
//! - [`deadline`]: the bound on a request's database time, whatever Postgres does.
//! - [`shared_reads`]: bearer point reads that concurrent requests share a round trip for.
//! - [`idempotency`]: `Idempotency-Key`, stored replies in the handler's transaction.
//! - [`roles`]: who may call an operation, checked against the current role.
//! - [`pages`]: the page request and cursor of every list operation.
//! - [`text`]: names, lines and descriptions a caller sends, bounded.
//! - [`phone`]: phone numbers, validated and normalized to E.164.
//! - [`tokens`]: verifying access tokens (JWT), and the signing keys.
//! - [`revocation`]: revoked sessions and suspended tenants, in memory.
//! - [`outbox`]: recording events and mail in the transaction, the relay to JetStream.
//! - [`telemetry`]: tracing setup.
//! - [`metrics`]: Prometheus metrics, `/healthz` and `/readyz` on a private port.
//! - [`shutdown`]: SIGTERM/SIGINT into a cancellation token.

pub mod app;
pub mod auth;
pub mod bounds;
pub mod call;
pub mod clock;
pub mod config;
pub mod db;
pub mod deadline;
pub mod error;
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
pub use call::{Call, Meta};
pub use config::Config;
pub use db::Db;
pub use error::Error;
pub use service::{endpoint, Endpoint, Worker};
