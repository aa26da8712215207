//! Faults under load (contract §3 `unavailable`): dependencies that go
//! away and come back. Postgres here is a private cluster the test stops
//! and starts, so the shared server stays up for the other tests.

use futures::StreamExt;
use olympus_tests::postgres_server::PrivatePostgres;
use olympus_tests::{with_app_opts, Encoding, Options};
use serde_json::json;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::OLYMPUS;

/// Postgres stops for 4 s under 8 looping callers: every request gets a
/// reply within 2.5 s (`unavailable` when it needs the database, never a
/// time-out), a signup too; once Postgres answers again every request
/// succeeds within 5 s, the relay publishes the next change's event, the
/// revocation state is read again (its age on the metrics port), and the
/// process never exits.
#[tokio::test]
async fn while_postgres_is_down_requests_get_unavailable_promptly_and_then_all_resumes() {
    with_app_opts(Options::without_workers(), async |app| {
        let pg = PrivatePostgres::start().await;
        let url = pg.url("olympus");
        let metrics = format!("127.0.0.1:{}", olympus_tests::free_port());
        let mut serve = app
            .serve_process_with(
                OLYMPUS,
                &[],
                &[
                    ("DATABASE_URL", url.as_str()),
                    // A fresh cluster: serve creates and migrates its database.
                    ("OLYMPUS_MIGRATE", "true"),
                    ("OLYMPUS_METRICS_ADDR", metrics.as_str()),
                ],
            )
            .await;
        let signup = app.signup(Encoding::Json).await;
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let callers = load(app, &signup.access_token, 8, &stop);
        tokio::time::sleep(Duration::from_millis(1000)).await;

        pg.stop().await;
        let down = Instant::now();
        tokio::time::sleep(Duration::from_millis(3000)).await;
        // A write: unavailable too, promptly.
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
            .expect("a reply while Postgres is down");
        reply.err(503, "unavailable");
        assert!(asked.elapsed() < Duration::from_millis(2500));
        tokio::time::sleep(Duration::from_millis(1000)).await;

        pg.resume().await;
        let back = Instant::now();
        tokio::time::sleep(Duration::from_secs(6)).await;
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let seen = outcomes(callers).await;

        let while_down: Vec<_> = seen
            .iter()
            .filter(|o| o.sent >= down && o.sent < back)
            .collect();
        let counts = tally(while_down.iter().copied());
        assert!(
            counts
                .keys()
                .all(|what| what == "ok" || what == "unavailable"),
            "while Postgres was down callers saw {counts:?}"
        );
        assert!(
            counts.get("unavailable").copied().unwrap_or(0) > 0,
            "requests needing the database were refused: {counts:?}"
        );
        let slowest = while_down.iter().map(|o| o.took).max().unwrap();
        assert!(
            slowest < Duration::from_millis(2500),
            "a reply took {slowest:?} while Postgres was down"
        );
        let recovered = recovered(&seen, back, "Postgres");
        eprintln!(
            "while down: {:?}; first success {recovered:?} after Postgres answered",
            tally(while_down.iter().copied())
        );

        // The relay resumed: the next change's event is published.
        let again = app.signup(Encoding::Json).await;
        let events = app
            .events(Some(&again.tenant_id), Some("tenant.created"), 1)
            .await;
        assert_eq!(events.len(), 1);
        // The revocation state is read again (every 250 ms).
        let (_, _, body) =
            olympus_tests::http::request(&metrics, "GET", "/metrics", &[], b"").await;
        let body = String::from_utf8(body).unwrap();
        let age: f64 = body
            .lines()
            .find_map(|l| l.strip_prefix("olympus_revocation_age_seconds "))
            .expect("the revocation age gauge")
            .parse()
            .unwrap();
        assert!(age < 1.0, "revocations last read {age} s ago");
        assert!(
            serve.terminate().await.success(),
            "the process kept running"
        );
        pg.remove().await;
    })
    .await;
}

/// Asserts that every request sent 5 s or more after `back` (when
/// `dependency` answered again) succeeded; returns how soon after `back`
/// the first one did.
fn recovered(seen: &[Outcome], back: Instant, dependency: &str) -> Duration {
    let after: Vec<_> = seen
        .iter()
        .filter(|o| o.sent >= back + Duration::from_secs(5))
        .collect();
    let counts = tally(after.iter().copied());
    assert!(
        !after.is_empty() && counts.keys().all(|what| what == "ok"),
        "5 s after {dependency} returned callers still saw {counts:?}"
    );
    seen.iter()
        .filter(|o| o.sent >= back && o.what == "ok")
        .map(|o| o.sent - back)
        .min()
        .unwrap_or_else(|| panic!("no success after {dependency} returned"))
}

/// Neither workers nor a relay in the test process: `serve` processes do
/// all the work.
fn processes_only() -> Options {
    Options {
        relay: false,
        ..Options::without_workers()
    }
}

/// One request of a looping caller: when it was sent, how long its reply
/// took, and what it was: `ok`, the error code, or `timeout` (no reply
/// within 3 s).
#[derive(Debug, Clone)]
struct Outcome {
    sent: Instant,
    took: Duration,
    what: String,
}

/// Callers looping `auth.me` with `token` until `stop` is set.
fn load(
    app: &olympus_tests::TestApp,
    token: &str,
    callers: usize,
    stop: &std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> Vec<tokio::task::JoinHandle<Vec<Outcome>>> {
    load_through(&app.nats, &app.prefix, token, callers, stop)
}

/// [`load`] through the NATS connection `nats`.
fn load_through(
    nats: &async_nats::Client,
    prefix: &str,
    token: &str,
    callers: usize,
    stop: &std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> Vec<tokio::task::JoinHandle<Vec<Outcome>>> {
    (0..callers)
        .map(|_| {
            let nats = nats.clone();
            let subject = format!("{prefix}.auth.v1.me");
            let token = token.to_owned();
            let stop = std::sync::Arc::clone(stop);
            tokio::spawn(async move {
                let mut seen = Vec::new();
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let mut headers = async_nats::HeaderMap::new();
                    headers.insert("Content-Type", "application/json");
                    headers.insert("Authorization", format!("Bearer {token}"));
                    let sent = Instant::now();
                    let request = nats.request_with_headers(subject.clone(), headers, "{}".into());
                    let what = match tokio::time::timeout(Duration::from_secs(3), request).await {
                        Ok(Ok(reply)) => match reply
                            .headers
                            .as_ref()
                            .and_then(|h| h.get("Nats-Service-Error-Code").map(|_| ()))
                        {
                            None => "ok".to_owned(),
                            Some(()) => serde_json::from_slice::<serde_json::Value>(&reply.payload)
                                .ok()
                                .and_then(|b| b["code"].as_str().map(str::to_owned))
                                .unwrap_or_else(|| "undecodable".to_owned()),
                        },
                        Ok(Err(err)) => format!("{:?}", err.kind()),
                        Err(_) => "timeout".to_owned(),
                    };
                    seen.push(Outcome {
                        sent,
                        took: sent.elapsed(),
                        what,
                    });
                }
                seen
            })
        })
        .collect()
}

async fn outcomes(callers: Vec<tokio::task::JoinHandle<Vec<Outcome>>>) -> Vec<Outcome> {
    let mut all = Vec::new();
    for caller in callers {
        all.extend(caller.await.unwrap());
    }
    all
}

/// Outcomes counted by what they were.
fn tally<'a>(outcomes: impl IntoIterator<Item = &'a Outcome>) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for outcome in outcomes {
        *counts.entry(outcome.what.clone()).or_default() += 1;
    }
    counts
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
        let seen = tally(&outcomes(callers).await);
        assert!(
            seen.keys().all(|what| what == "ok"),
            "requests failed during the rolling restart: {seen:?}"
        );
        assert!(
            seen["ok"] > 500,
            "too little load to show anything: {seen:?}"
        );
        assert!(third.terminate().await.success());
        assert!(fourth.terminate().await.success());
    })
    .await;
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
/// outbox row. The callers wait 5 s for a reply: long enough that a
/// request to the survivor, carrying the whole load on a busy CI machine,
/// is answered, so that every unanswered request was one the kill took.
#[tokio::test]
async fn kill_9_under_mixed_load_fails_only_requests_in_flight_and_loses_no_event() {
    with_app_opts(processes_only(), async |app| {
        // The doomed process leads the relay; the survivor must take over.
        let mut doomed = app.serve_process(OLYMPUS, &[]).await;
        doomed
            .wait_for_line("outbox relay: leading", Duration::from_secs(10))
            .await;
        let mut survivor = app.serve_process(OLYMPUS, &[]).await;
        let callers = 16;
        let bench = tokio::process::Command::new(OLYMPUS)
            .args(["bench", "--mix", "--duration", "6s", "--timeout", "5s"])
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

        let total = olympus_tests::process::report_fields(&report, "  total: ");
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
        let orders = olympus_tests::process::report_fields(&report, "orders: ");
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
        if let Err(left) = olympus_tests::wait_for_zero(
            app.db.pool(),
            "SELECT count(*) FROM outbox WHERE published_at IS NULL",
            Duration::from_secs(10),
        )
        .await
        {
            panic!("{left} outbox rows still unpublished 10 s after the kill");
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

/// A NATS server (a private one, killed and started again on its store)
/// restarts under 8 looping callers. Process A serves through it; process
/// B takes requests through the shared server but its relay publishes
/// through the private one, so signups commit while it is down. Once it
/// answers again: A's micro services are registered again and every
/// request succeeds within 5 s; a session revoked in Postgres while A was
/// cut off (a broadcast it never got) is refused; every event committed
/// meanwhile is in the stream exactly once.
#[tokio::test]
async fn a_nats_restart_under_load_is_recovered_within_seconds_and_loses_nothing() {
    with_app_opts(processes_only(), async |app| {
        let mut private = olympus_tests::nats_server::PrivateNats::start().await;
        let mut a = app
            .serve_process_with(OLYMPUS, &[], &[("NATS_URL", private.url().as_str())])
            .await;
        let mut b = app
            .serve_process_with(
                OLYMPUS,
                &["--workers", "auth,tenant"],
                &[("OLYMPUS_RELAY_NATS_URL", private.url().as_str())],
            )
            .await;
        let callers_nats = async_nats::ConnectOptions::new()
            .retry_on_initial_connect()
            .reconnect_delay_callback(|_| Duration::from_millis(100))
            .connect(private.url())
            .await
            .unwrap();
        let signup = app.signup(Encoding::Json).await;
        let doomed = app
            .login(
                &signup.slug,
                &signup.email,
                olympus_tests::client::GOOD_PASSWORD,
            )
            .await
            .ok()["tokens"]["access_token"]
            .as_str()
            .unwrap()
            .to_owned();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let callers = load_through(&callers_nats, &app.prefix, &signup.access_token, 8, &stop);
        tokio::time::sleep(Duration::from_millis(1000)).await;

        private.stop().await;
        // Changes commit through B meanwhile; their events wait.
        let mut during = Vec::new();
        for _ in 0..3 {
            during.push(app.signup(Encoding::Json).await);
        }
        // A revocation A cannot hear of: committed, never broadcast to it.
        sqlx::query(
            "UPDATE sessions SET revoked_at = now() WHERE id = \
             (SELECT id FROM sessions WHERE user_id = $1::uuid ORDER BY created_at DESC LIMIT 1)",
        )
        .bind(&signup.user_id)
        .execute(app.db.pool())
        .await
        .unwrap();
        tokio::time::sleep(Duration::from_millis(2000)).await;
        private.resume().await;
        let back = Instant::now();
        tokio::time::sleep(Duration::from_secs(6)).await;
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let seen = outcomes(callers).await;

        let recovered = recovered(&seen, back, "NATS");
        eprintln!(
            "first success {recovered:?} after NATS answered; all: {:?}",
            tally(&seen)
        );

        // A's services answer discovery again.
        let inbox = callers_nats.new_inbox();
        let mut pongs = callers_nats.subscribe(inbox.clone()).await.unwrap();
        callers_nats
            .publish_with_reply("$SRV.PING", inbox, "".into())
            .await
            .unwrap();
        let mut services = std::collections::BTreeSet::new();
        while let Ok(Some(pong)) =
            tokio::time::timeout(Duration::from_millis(500), pongs.next()).await
        {
            let pong: serde_json::Value = serde_json::from_slice(&pong.payload).unwrap();
            services.insert(pong["name"].as_str().unwrap().to_owned());
        }
        assert_eq!(
            services.into_iter().collect::<Vec<_>>(),
            ["olympus-auth", "olympus-commerce", "olympus-tenant"]
        );

        // A refuses the session revoked while it was cut off.
        let mut headers = async_nats::HeaderMap::new();
        headers.insert("Content-Type", "application/json");
        headers.insert("Authorization", format!("Bearer {doomed}"));
        let reply = callers_nats
            .request_with_headers(format!("{}.auth.v1.me", app.prefix), headers, "{}".into())
            .await
            .unwrap();
        let body: serde_json::Value = serde_json::from_slice(&reply.payload).unwrap();
        assert_eq!(
            reply
                .headers
                .unwrap()
                .get("Nats-Service-Error-Code")
                .unwrap()
                .as_str(),
            "401"
        );
        assert_eq!(body["code"], "unauthenticated", "{body}");

        // Every event committed meanwhile, exactly once.
        let signups: Vec<_> = std::iter::once(&signup).chain(&during).collect();
        olympus_tests::events::assert_one_tenant_created_each(&callers_nats, app, &signups).await;
        assert!(a.terminate().await.success());
        assert!(b.terminate().await.success());
    })
    .await;
}
