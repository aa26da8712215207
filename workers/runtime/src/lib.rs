//! What every Olympus worker shares.
//!
//! A worker is a NATS micro service whose endpoints are plain async
//! functions: `async fn(App, Call<Request>) -> Result<Reply, Error>`. This
//! crate does everything around them, the same way for every worker:
//! decoding and encoding per `Content-Type`, correlation ids, bearer token
//! verification, turning every [`Error`] into the contract's error reply,
//! Postgres with row-level security, and draining on shutdown.
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
//! - [`db`]: the pool, embedded migrations, tenant-scoped transactions.
//! - [`tokens`]: access tokens (JWT) and their signing keys.
//! - [`opaque`]: opaque random tokens (refresh, verification), stored as hashes.
//! - [`revocation`]: revoked sessions and suspended tenants, in memory.
//! - [`outbox`]: recording events and mail in the transaction, the relay to JetStream.
//! - [`passwords`]: Argon2id off the async threads, with bounded concurrency.
//! - [`telemetry`]: tracing setup.
//! - [`shutdown`]: SIGTERM/SIGINT into a cancellation token.

pub mod app;
pub mod auth;
pub mod bounds;
pub mod call;
pub mod clock;
pub mod config;
pub mod db;
pub mod error;
pub mod nats;
pub mod opaque;
pub mod outbox;
pub mod pages;
pub mod passwords;
pub mod phone;
pub mod revocation;
pub mod roles;
pub mod service;
pub mod shutdown;
pub mod telemetry;
pub mod tokens;

pub use app::App;
pub use call::{Call, Meta};
pub use config::Config;
pub use db::Db;
pub use error::Error;
pub use service::{endpoint, Endpoint, Worker};
