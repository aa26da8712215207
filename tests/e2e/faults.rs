//! Faults under load (contract §3 `unavailable`): dependencies that go
//! away and come back. Postgres here is a private cluster the test stops
//! and starts, so the shared server stays up for the other tests.

use olympus_tests::postgres_server::PrivatePostgres;
use olympus_tests::{with_app_opts, Encoding, Options};
use serde_json::json;
use std::time::{Duration, Instant};

use crate::OLYMPUS;

#[tokio::test]
async fn while_postgres_is_down_requests_get_unavailable_promptly_and_then_all_resumes() {
    with_app_opts(Options::without_workers(), async |app| {
        let pg = PrivatePostgres::start().await;
        let url = pg.url("olympus");
        let mut serve = app
            .serve_process_with(OLYMPUS, &[], &[("DATABASE_URL", url.as_str())])
            .await;
        let signup = app.signup(Encoding::Json).await;
        let me = || {
            let mut headers = async_nats::HeaderMap::new();
            headers.insert("Content-Type", "application/json");
            headers.insert("Authorization", format!("Bearer {}", signup.access_token));
            app.try_raw("auth.v1.me", headers, "{}", Duration::from_secs(3))
        };
        me().await.expect("a reply").ok();

        pg.stop().await;
        let down = Instant::now();
        let mut unavailable = 0;
        while down.elapsed() < Duration::from_secs(4) {
            let asked = Instant::now();
            let reply = me()
                .await
                .expect("every request gets a reply while Postgres is down");
            assert!(
                asked.elapsed() < Duration::from_millis(2500),
                "a reply took {:?}",
                asked.elapsed()
            );
            if reply.status() != 200 {
                reply.err(503, "unavailable");
                unavailable += 1;
            }
        }
        assert!(
            unavailable > 0,
            "requests needing the database were refused"
        );
        // Signup writes: unavailable too, promptly.
        let asked = Instant::now();
        let reply = app
            .try_raw(
                "tenant.v1.create",
                {
                    let mut h = async_nats::HeaderMap::new();
                    h.insert("Content-Type", "application/json");
                    h
                },
                json!({"slug": "late-acme", "name": "Late", "owner": {
                    "email": "x@late.example", "password": "velvet-orbit-cactus-harmonica"}})
                .to_string(),
                Duration::from_secs(3),
            )
            .await
            .expect("a reply");
        reply.err(503, "unavailable");
        assert!(asked.elapsed() < Duration::from_millis(2500));

        pg.resume().await;
        let back = Instant::now();
        loop {
            let reply = me().await.expect("a reply");
            if reply.status() == 200 {
                break;
            }
            assert!(
                back.elapsed() < Duration::from_secs(5),
                "still {} 5 s after Postgres returned",
                reply.status()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let again = app.signup(Encoding::Json).await;
        assert!(!again.tenant_id.is_empty());
        assert!(
            serve.terminate().await.success(),
            "the process kept running"
        );
        pg.remove().await;
    })
    .await;
}

/// What 16 callers looping on `auth.me` saw: replies by status, and
/// requests that got no reply within 3 s.
#[derive(Debug, Default)]
struct Seen {
    ok: usize,
    errors: std::collections::BTreeMap<String, usize>,
    timeouts: usize,
}

/// Callers looping `auth.me` with `token` until `stop` is set.
fn load(
    app: &olympus_tests::TestApp,
    token: &str,
    callers: usize,
    stop: &std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> Vec<tokio::task::JoinHandle<Seen>> {
    (0..callers)
        .map(|_| {
            let nats = app.nats.clone();
            let subject = format!("{}.auth.v1.me", app.prefix);
            let token = token.to_owned();
            let stop = std::sync::Arc::clone(stop);
            tokio::spawn(async move {
                let mut seen = Seen::default();
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let mut headers = async_nats::HeaderMap::new();
                    headers.insert("Content-Type", "application/json");
                    headers.insert("Authorization", format!("Bearer {token}"));
                    let request = nats.request_with_headers(subject.clone(), headers, "{}".into());
                    match tokio::time::timeout(Duration::from_secs(3), request).await {
                        Ok(Ok(reply)) => match reply
                            .headers
                            .as_ref()
                            .and_then(|h| h.get("Nats-Service-Error-Code"))
                        {
                            None => seen.ok += 1,
                            Some(code) => *seen.errors.entry(code.to_string()).or_default() += 1,
                        },
                        Ok(Err(err)) => {
                            *seen.errors.entry(format!("{:?}", err.kind())).or_default() += 1
                        }
                        Err(_) => seen.timeouts += 1,
                    }
                }
                seen
            })
        })
        .collect()
}

async fn total(callers: Vec<tokio::task::JoinHandle<Seen>>) -> Seen {
    let mut all = Seen::default();
    for caller in callers {
        let seen = caller.await.unwrap();
        all.ok += seen.ok;
        all.timeouts += seen.timeouts;
        for (code, n) in seen.errors {
            *all.errors.entry(code).or_default() += n;
        }
    }
    all
}

/// A rolling restart under load: of two `serve` processes, one is stopped
/// with SIGTERM and replaced, then the other with SIGINT (it runs only
/// auth and tenant) and replaced, while 16 callers loop; not one request
/// fails or goes unanswered. Each stopping process drains: its
/// subscriptions end only once NATS confirms it routes nothing more to
/// them, and what was delivered before is answered.
#[tokio::test]
async fn a_rolling_restart_under_load_fails_no_request() {
    with_app_opts(Options::without_workers(), async |app| {
        let mut first = app.serve_process(OLYMPUS, &[]).await;
        let mut second = app
            .serve_process(OLYMPUS, &["--workers", "auth,tenant"])
            .await;
        let signup = app.signup(Encoding::Json).await;
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let callers = load(app, &signup.access_token, 16, &stop);
        tokio::time::sleep(Duration::from_millis(1500)).await;

        assert!(first.terminate().await.success());
        let mut third = app.serve_process(OLYMPUS, &[]).await;
        tokio::time::sleep(Duration::from_millis(1000)).await;
        assert!(second.interrupt().await.success());
        let mut fourth = app
            .serve_process(OLYMPUS, &["--workers", "auth,tenant"])
            .await;
        tokio::time::sleep(Duration::from_millis(1000)).await;

        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let seen = total(callers).await;
        assert!(seen.ok > 500, "too little load to show anything: {seen:?}");
        assert!(
            seen.errors.is_empty() && seen.timeouts == 0,
            "requests failed during the rolling restart: {seen:?}"
        );
        assert!(third.terminate().await.success());
        assert!(fourth.terminate().await.success());
    })
    .await;
}

/// `key=value` fields of the report line of `olympus bench --mix` that
/// starts with `prefix`.
fn report_fields(report: &str, prefix: &str) -> std::collections::HashMap<String, String> {
    let line = report
        .lines()
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no line {prefix:?} in:\n{report}"));
    line[prefix.len()..]
        .split_whitespace()
        .filter_map(|f| f.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

/// `errors={timeout=3,no_responders=1}` as pairs.
fn error_counts(field: &str) -> Vec<(String, usize)> {
    field
        .trim_start_matches('{')
        .trim_end_matches('}')
        .split(',')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap();
            (k.to_owned(), v.parse().unwrap())
        })
        .collect()
}

/// kill -9 of one of two processes under `olympus bench --mix` (reads,
/// refreshes, logins, orders with idempotency keys, retried on no reply):
/// only the requests in flight on the killed process fail (each of the 16
/// callers has at most one in flight), no retried order takes effect
/// twice (the stock taken equals the orders acknowledged, and the orders
/// table holds exactly those), the survivor's relay publishes what the
/// killed one left, and the stream holds exactly one event per committed
/// outbox row.
#[tokio::test]
async fn kill_9_under_mixed_load_fails_only_requests_in_flight_and_loses_no_event() {
    with_app_opts(Options::without_workers(), async |app| {
        let mut doomed = app.serve_process(OLYMPUS, &[]).await;
        let mut survivor = app.serve_process(OLYMPUS, &[]).await;
        let callers = 16;
        let bench = tokio::process::Command::new(OLYMPUS)
            .args(["bench", "--mix", "--duration", "6s", "--timeout", "2s"])
            .args(["--concurrency", &callers.to_string(), "--no-floors"])
            .env("NATS_URL", &app.nats_url)
            .env("OLYMPUS_SUBJECT_PREFIX", &app.prefix)
            .env("DATABASE_URL", &app.database_url)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        tokio::time::sleep(Duration::from_millis(2500)).await;
        doomed.kill().await;
        let output = bench.wait_with_output().await.unwrap();
        let report = String::from_utf8_lossy(&output.stdout).into_owned();
        eprintln!("{report}");
        assert!(
            output.status.success(),
            "the drill failed (stock taken differs from orders acknowledged?):\n{report}{}",
            String::from_utf8_lossy(&output.stderr)
        );

        let total = report_fields(&report, "  total: ");
        let failed: Vec<_> = error_counts(&total["errors"]);
        let failures: usize = failed.iter().map(|(_, n)| n).sum();
        assert!(
            failed.iter().all(|(kind, _)| kind == "timeout"),
            "only requests in flight on the killed process may fail, by going unanswered:\n{report}"
        );
        assert!(
            failures <= callers,
            "more failures than requests in flight:\n{report}"
        );
        assert!(
            total["ok"].parse::<usize>().unwrap() > 500,
            "too little load:\n{report}"
        );
        let orders = report_fields(&report, "orders: ");
        let acknowledged: i64 = orders["acknowledged"].parse().unwrap();
        assert_eq!(orders["abandoned"], "0", "{report}");
        let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM orders")
            .fetch_one(app.db.pool())
            .await
            .unwrap();
        assert_eq!(
            rows, acknowledged,
            "one order per acknowledged key:\n{report}"
        );

        // The survivor's relay publishes what is left.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let left: i64 =
                sqlx::query_scalar("SELECT count(*) FROM outbox WHERE published_at IS NULL")
                    .fetch_one(app.db.pool())
                    .await
                    .unwrap();
            if left == 0 {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{left} outbox rows still unpublished 10 s after the kill"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let committed: Vec<uuid::Uuid> =
            sqlx::query_scalar("SELECT id FROM outbox WHERE kind = 'event' ORDER BY seq")
                .fetch_all(app.db.pool())
                .await
                .unwrap();
        let published = app.events(None, None, committed.len()).await;
        let mut ids: Vec<uuid::Uuid> = published
            .iter()
            .map(|e| e.body["id"].as_str().unwrap().parse().unwrap())
            .collect();
        assert_eq!(ids.len(), committed.len(), "an event published twice");
        ids.sort();
        let mut expected = committed.clone();
        expected.sort();
        assert_eq!(ids, expected, "events one to one with committed changes");
        assert!(survivor.terminate().await.success());
    })
    .await;
}
