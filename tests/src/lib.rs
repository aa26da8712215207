//! The end-to-end harness: Olympus as its clients see it.
//!
//! Each test gets its own database (created from `DATABASE_URL`, dropped
//! afterwards, even when the test fails), its own random subject prefix on
//! the shared NATS server (its streams deleted afterwards), and the workers
//! running in-process; it then talks to them only over NATS, with payloads
//! built from JSON values and field names, not from the Rust contract types,
//! so that a wire mistake cannot hide behind shared code.
//!
//! With `OLYMPUS_TESTCONTAINERS=1` (and a Docker engine) each test gets
//! Postgres and NATS containers instead of the URLs.
//!
//! # Layout
//! - [`infra`]: where Postgres and NATS are (URLs or containers).
//! - [`app`]: [`TestApp`] and [`with_app`]: a database, a prefix, workers.
//! - [`client`]: requests as the gateway sends them, replies as it reads them.
//! - [`ops`]: a helper per operation of the catalog, `app.me(token)`.
//! - [`events`]: what reached the streams, read as a subscriber reads it.
//! - [`process`]: real `olympus` processes, for what only a process shows.
//! - [`nats_server`]: a private NATS server, to take away and give back;
//!   [`nats_cluster`]: three of them in a cluster, to kill, restart and freeze.
//! - [`postgres_server`]: a private Postgres cluster, to stop, pause and start;
//!   [`tcp_proxy`]: a link to it that can go silent (half-open connections).
//! - [`gateway`]: the Go gateway's binary; [`http`]: a byte-exact HTTP client.

pub mod app;
pub mod client;
pub mod events;
pub mod gateway;
pub mod http;
pub mod infra;
pub mod jwt;
pub mod nats_cluster;
pub mod nats_server;
pub mod ops;
pub mod postgres_server;
pub mod process;
pub mod python;
pub mod tcp_proxy;
pub mod totp;

pub use app::{with_app, with_app_opts, Options, TestApp};

/// Whether something listens on `127.0.0.1:{port}` within `within`
/// (looked at every 25 ms): a server just started.
pub async fn listening(port: u16, within: std::time::Duration) -> bool {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
}

/// A TCP port free on 127.0.0.1 right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}
pub use client::{Encoding, Member, Reply, Signup};

/// Runs `count` (a `SELECT count(*) ...`) on `pool` every 20 ms until it
/// gives 0; past `within`, the last count it gave.
pub async fn wait_for_zero(
    pool: &sqlx::PgPool,
    count: &str,
    within: std::time::Duration,
) -> Result<(), i64> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let left: i64 = sqlx::query_scalar(count)
            .fetch_one(pool)
            .await
            .expect("counting rows");
        if left == 0 {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(left);
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}
