//! Metrics and health over HTTP, on `OLYMPUS_METRICS_ADDR` when it is set:
//! `GET /metrics` (Prometheus text), `GET /healthz` (the process answers)
//! and `GET /readyz` (NATS connected, Postgres answering, revocation
//! knowledge fresh: the conditions under which bearer requests are served).
//!
//! At each scrape, besides the request counters ([`crate::metrics`]): the
//! outbox's unpublished rows and the age of the oldest, parked dead
//! letters, the age of the revocation knowledge, and both pools'
//! connections.
//!
//! The server is deliberately small (one request per connection, a 4 KiB
//! request head, a few routes): it is for a scraper and a probe on a
//! private port, not for the public.

use std::fmt::Write as _;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::sync::CancellationToken;

use crate::app::App;

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
