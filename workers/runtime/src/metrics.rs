//! Metrics and health over HTTP, on `OLYMPUS_METRICS_ADDR` when it is set:
//! `GET /metrics` (Prometheus text), `GET /healthz` (the process answers)
//! and `GET /readyz` (NATS connected, Postgres answering, revocation
//! knowledge fresh: the conditions under which bearer requests are served).
//!
//! Per operation: requests, errors by code and a latency histogram, kept in
//! atomics by the request path. At each scrape: the outbox's unpublished
//! rows and the age of the oldest, parked dead letters, the age of the
//! revocation knowledge, and both pools' connections.
//!
//! The server is deliberately small (one request per connection, a 4 KiB
//! request head, a few routes): it is for a scraper and a probe on a
//! private port, not for the public.

use olympus_contracts::operation::Operation;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::sync::CancellationToken;

use crate::app::App;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

/// One operation's counters, looked up once when its endpoint starts.
#[derive(Debug, Default)]
pub struct OperationMetrics {
    requests: AtomicU64,
    buckets: [AtomicU64; BUCKETS.len()],
    /// Sum of latencies, in microseconds.
    latency_micros: AtomicU64,
    errors: Mutex<BTreeMap<&'static str, u64>>,
}

impl OperationMetrics {
    /// Records one answered request: its latency and, when it failed, its
    /// error code.
    pub fn record(&self, latency: Duration, error: Option<&'static str>) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let seconds = latency.as_secs_f64();
        for (bound, bucket) in BUCKETS.iter().zip(&self.buckets) {
            if seconds <= *bound {
                bucket.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.latency_micros.fetch_add(
            u64::try_from(latency.as_micros()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
        if let Some(code) = error {
            *self
                .errors
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .entry(code)
                .or_default() += 1;
        }
    }
}

/// The request counters of a process.
#[derive(Debug, Default)]
pub struct Metrics {
    operations: Mutex<BTreeMap<String, Arc<OperationMetrics>>>,
}

impl Metrics {
    /// The counters of `operation` (made on first use).
    pub fn of(&self, operation: Operation) -> Arc<OperationMetrics> {
        let name = format!("{}.{}", operation.service.as_str(), operation.name);
        let mut operations = self.operations.lock().unwrap_or_else(|e| e.into_inner());
        Arc::clone(operations.entry(name).or_default())
    }

    fn render(&self, out: &mut String) {
        let operations = self.operations.lock().unwrap_or_else(|e| e.into_inner());
        out.push_str("# HELP olympus_requests_total Requests answered, by operation.\n# TYPE olympus_requests_total counter\n");
        for (name, m) in operations.iter() {
            let _ = writeln!(
                out,
                "olympus_requests_total{{operation=\"{name}\"}} {}",
                m.requests.load(Ordering::Relaxed)
            );
        }
        out.push_str("# HELP olympus_request_errors_total Error replies, by operation and code.\n# TYPE olympus_request_errors_total counter\n");
        for (name, m) in operations.iter() {
            for (code, count) in m.errors.lock().unwrap_or_else(|e| e.into_inner()).iter() {
                let _ = writeln!(
                    out,
                    "olympus_request_errors_total{{operation=\"{name}\",code=\"{code}\"}} {count}"
                );
            }
        }
        out.push_str("# HELP olympus_request_duration_seconds Time from a request's arrival to its reply.\n# TYPE olympus_request_duration_seconds histogram\n");
        for (name, m) in operations.iter() {
            for (bound, bucket) in BUCKETS.iter().zip(&m.buckets) {
                let _ = writeln!(
                    out,
                    "olympus_request_duration_seconds_bucket{{operation=\"{name}\",le=\"{bound}\"}} {}",
                    bucket.load(Ordering::Relaxed)
                );
            }
            let count = m.requests.load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "olympus_request_duration_seconds_bucket{{operation=\"{name}\",le=\"+Inf\"}} {count}"
            );
            let _ = writeln!(
                out,
                "olympus_request_duration_seconds_sum{{operation=\"{name}\"}} {}",
                m.latency_micros.load(Ordering::Relaxed) as f64 / 1e6
            );
            let _ = writeln!(
                out,
                "olympus_request_duration_seconds_count{{operation=\"{name}\"}} {count}"
            );
        }
    }
}

/// Serves metrics and health on `addr` until `stop`.
pub async fn serve(app: App, addr: String, stop: CancellationToken) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(&addr)
        .await
        .map_err(|e| anyhow::anyhow!("binding OLYMPUS_METRICS_ADDR {addr}: {e}"))?;
    tracing::info!(%addr, "metrics and health on /metrics, /healthz, /readyz");
    tokio::spawn(async move {
        loop {
            let accepted = tokio::select! {
                _ = stop.cancelled() => return,
                accepted = listener.accept() => accepted,
            };
            let Ok((stream, _)) = accepted else { continue };
            let app = app.clone();
            tokio::spawn(async move {
                let _ = tokio::time::timeout(Duration::from_secs(10), answer(&app, stream)).await;
            });
        }
    });
    Ok(())
}

async fn answer(app: &App, mut stream: tokio::net::TcpStream) -> std::io::Result<()> {
    let mut head = vec![0u8; 4096];
    let mut read = 0;
    while read < head.len() {
        let n = stream.read(&mut head[read..]).await?;
        if n == 0 {
            break;
        }
        read += n;
        if head[..read].windows(4).any(|w| w == b"\r\n\r\n") {
            break;
        }
    }
    let line = String::from_utf8_lossy(&head[..read]);
    let mut parts = line.split_whitespace();
    let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let (status, body) = match (method, path) {
        ("GET", "/metrics") => ("200 OK", render(app).await),
        ("GET", "/healthz") => ("200 OK", "ok\n".to_owned()),
        ("GET", "/readyz") => match ready(app).await {
            Ok(()) => ("200 OK", "ready\n".to_owned()),
            Err(why) => ("503 Service Unavailable", format!("not ready: {why}\n")),
        },
        _ => ("404 Not Found", "not found\n".to_owned()),
    };
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(response.as_bytes()).await?;
    stream.shutdown().await
}

/// Why the process cannot serve bearer requests now, if it cannot.
async fn ready(app: &App) -> Result<(), String> {
    if app.nats().connection_state() != async_nats::connection::State::Connected {
        return Err("NATS is not connected".to_owned());
    }
    sqlx::query("SELECT 1")
        .execute(app.db().app_pool())
        .await
        .map_err(|e| format!("Postgres: {e}"))?;
    if app
        .revocations()
        .age()
        .is_none_or(|age| age >= crate::revocation::STALE_AFTER)
    {
        return Err("the revocation knowledge is stale".to_owned());
    }
    Ok(())
}

async fn render(app: &App) -> String {
    let mut out = String::new();
    app.metrics().render(&mut out);
    let outbox: Option<(i64, Option<f64>, i64)> = sqlx::query_as(
        "SELECT (SELECT count(*) FROM outbox WHERE published_at IS NULL),
                (SELECT extract(epoch FROM now() - min(created_at))::float8 FROM outbox WHERE published_at IS NULL),
                (SELECT count(*) FROM outbox_dead_letters)",
    )
    .fetch_optional(app.db().pool())
    .await
    .ok()
    .flatten();
    if let Some((unpublished, oldest, dead)) = outbox {
        let _ = writeln!(out, "# HELP olympus_outbox_unpublished Events and mail committed, not yet in JetStream.\n# TYPE olympus_outbox_unpublished gauge\nolympus_outbox_unpublished {unpublished}");
        let _ = writeln!(out, "# HELP olympus_outbox_lag_seconds Age of the oldest unpublished outbox row.\n# TYPE olympus_outbox_lag_seconds gauge\nolympus_outbox_lag_seconds {}", oldest.unwrap_or(0.0));
        let _ = writeln!(out, "# HELP olympus_outbox_dead_letters Outbox rows parked for good (olympus events dead-letters).\n# TYPE olympus_outbox_dead_letters gauge\nolympus_outbox_dead_letters {dead}");
    }
    let age = app
        .revocations()
        .age()
        .map_or(f64::INFINITY, |a| a.as_secs_f64());
    let _ = writeln!(out, "# HELP olympus_revocation_age_seconds Time since this process last read revocations from Postgres.\n# TYPE olympus_revocation_age_seconds gauge\nolympus_revocation_age_seconds {age}");
    out.push_str("# HELP olympus_db_connections Connections of each pool, by state.\n# TYPE olympus_db_connections gauge\n");
    for (pool, p) in [("app", app.db().app_pool()), ("owner", app.db().pool())] {
        let idle = p.num_idle() as u32;
        let _ = writeln!(
            out,
            "olympus_db_connections{{pool=\"{pool}\",state=\"idle\"}} {idle}"
        );
        let _ = writeln!(
            out,
            "olympus_db_connections{{pool=\"{pool}\",state=\"busy\"}} {}",
            p.size().saturating_sub(idle)
        );
    }
    out
}
