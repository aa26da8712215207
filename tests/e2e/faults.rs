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
