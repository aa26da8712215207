//! Faults under load (contract §3 `unavailable`): dependencies that go
//! away and come back. Postgres here is a private cluster the test stops
//! and starts, so the shared server stays up for the other tests.

use futures::StreamExt;
use olympus_tests::ops::money;
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
        // The key set too: this process cannot say it is current.
        let jwks = app.jwks().await;
        let err = jwks.err(503, "unavailable");
        assert_eq!(err["details"]["retry_after_secs"], 1);
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

        app.jwks().await.ok();

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

/// Postgres goes away three ways, 3 s each, under 4 looping callers of
/// `auth.me` and one of `orders.create` (each order under an
/// `Idempotency-Key`, sent again with it until acknowledged), with the
/// process's pool at 4 connections so that stuck connections fill it:
/// stopped (fast shutdown, as `systemctl stop`: sessions ended, "shutting
/// down", refused, then "starting up"), frozen (SIGSTOP of the postmaster
/// and every backend: sockets open, nothing answers), and, for a second
/// process that reaches Postgres through a proxy, cut off (the proxy stops
/// forwarding: half-open connections; new ones are accepted and never
/// answered). Every request, whenever it was sent, is answered within 2 s,
/// with a success or `unavailable` (the bound is 1.5 s of database time,
/// `deadline::DATABASE_TIME`); `auth.me`, called as two users, never
/// answers another row than the caller's (no connection is reused with a
/// reply still owed); 1.5 s after each return everything succeeds; and
/// each order took effect exactly once: the orders in the database are the
/// keys acknowledged, and the stock taken is their count. About 22 s.
#[tokio::test]
async fn every_request_while_postgres_is_stopped_frozen_or_cut_off_is_answered_within_2s() {
    with_app_opts(Options::without_workers(), async |app| {
        let pg = PrivatePostgres::start().await;
        let proxy = olympus_tests::tcp_proxy::TcpProxy::start(pg.port).await;
        let serve = async |port: u16| {
            let url = format!("postgres://postgres@127.0.0.1:{port}/olympus");
            let pool = ("OLYMPUS_DB_MAX_CONNECTIONS", "4");
            // A fresh cluster: serve creates and migrates its database.
            let migrate = ("OLYMPUS_MIGRATE", "true");
            app.serve_process_with(
                OLYMPUS,
                &[],
                &[("DATABASE_URL", url.as_str()), pool, migrate],
            )
            .await
        };
        // Straight to Postgres: a stopped server refuses connections, which
        // a proxy would accept.
        let mut direct = serve(pg.port).await;
        let owner = app.signup(Encoding::Json).await;
        let product = app
            .create_product(&owner.access_token, "DRILL", "Drill", money(100, "EUR"))
            .with("stock", 1_000_000)
            .await
            .ok()["product"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let timeout = Duration::from_secs(5);
        // Two users, so that a reply read from a connection that still
        // owed an earlier statement's would show as another user's row.
        let member = app.join(&owner, "member@drill.example", "member").await;
        let users = [
            (owner.access_token.clone(), owner.user_id.clone()),
            (member.access_token, member.user_id),
        ];
        let mut callers = me_callers(app, &users, 4, timeout, &stop);
        let orderer = order_caller(app, &owner, &product, timeout, &stop);
        tokio::time::sleep(Duration::from_millis(1000)).await;

        let mut outages = Vec::new();
        let mut proxied = None;
        for how in ["stopped", "frozen", "cut off"] {
            if how == "cut off" {
                proxied = Some(serve(proxy.port).await);
                assert!(direct.terminate().await.success());
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            let down = Instant::now();
            match how {
                "stopped" => pg.stop_fast().await,
                "frozen" => pg.pause(),
                _ => proxy.cut(),
            }
            tokio::time::sleep(Duration::from_millis(3000)).await;
            match how {
                "stopped" => pg.resume().await,
                "frozen" => pg.unpause(),
                _ => proxy.heal(),
            }
            let back = Instant::now();
            tokio::time::sleep(Duration::from_millis(2500)).await;
            outages.push((how, down, back));
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let (orders, order_outcomes) = orderer.await.unwrap();
        callers.push(tokio::spawn(async move { order_outcomes }));
        let seen = outcomes(callers).await;

        // What callers saw, for the report and for any failure.
        let start = outages[0].1 - Duration::from_secs(1);
        let mut report = Vec::new();
        for (how, down, back) in &outages {
            // Every request in flight at some moment of the outage.
            let during: Vec<_> = seen
                .iter()
                .filter(|o| o.sent < *back && o.sent + o.took >= *down)
                .collect();
            report.push(format!(
                "{how} {:.1?}..{:.1?}: slowest reply {:?}, {:?}",
                *down - start,
                *back - start,
                during.iter().map(|o| o.took).max().unwrap(),
                tally(during.iter().copied())
            ));
        }
        let odd: Vec<String> = seen
            .iter()
            .filter(|o| {
                o.what != "ok" && o.what != "unavailable" || o.took > Duration::from_secs(1)
            })
            .take(20)
            .map(|o| {
                format!(
                    "{} sent at {:.2?} in {:.2?}",
                    o.what,
                    o.sent - start,
                    o.took
                )
            })
            .collect();
        let report = format!("{}\nodd or slow: {odd:#?}", report.join("\n"));
        eprintln!("{report}");

        let counts = tally(&seen);
        assert!(
            counts
                .keys()
                .all(|what| what == "ok" || RETRIED[..3].contains(&what.as_str())),
            "callers saw {counts:?}\n{report}"
        );
        let slowest = seen.iter().map(|o| o.took).max().unwrap();
        assert!(
            slowest <= Duration::from_secs(2),
            "a reply took {slowest:?}\n{report}"
        );
        for (how, down, back) in &outages {
            let during = seen.iter().filter(|o| o.sent >= *down && o.sent < *back);
            assert!(
                tally(during).contains_key("unavailable"),
                "Postgres {how}: no request was refused?\n{report}"
            );
            // Until well before the next outage: a request sent just
            // before it may reach Postgres after it.
            let late: Vec<_> = seen
                .iter()
                .filter(|o| o.sent >= *back + Duration::from_millis(1500))
                .filter(|o| o.sent < *back + Duration::from_millis(2200))
                .collect();
            assert!(
                !late.is_empty() && late.iter().all(|o| o.what == "ok"),
                "1.5 s after Postgres came back ({how}) callers still saw {:?}\n{report}",
                tally(late.iter().copied())
            );
        }

        // Each order once: those acknowledged, no more, and their stock.
        let private = sqlx::PgPool::connect(&pg.url("olympus")).await.unwrap();
        let placed: i64 = sqlx::query_scalar("SELECT count(*) FROM orders")
            .fetch_one(&private)
            .await
            .unwrap();
        assert_eq!(placed, orders, "orders in the database vs acknowledged");
        let stock: i64 =
            sqlx::query_scalar("SELECT stock FROM product_variants WHERE sku = 'DRILL'")
                .fetch_one(&private)
                .await
                .unwrap();
        assert_eq!(
            1_000_000 - stock,
            orders,
            "stock taken vs orders acknowledged"
        );
        private.close().await;
        assert!(proxied.unwrap().terminate().await.success());
        drop(proxy);
        pg.remove().await;
    })
    .await;
}

/// The bound cuts only while Postgres is silent: an order that waits for
/// its product's row, locked by another transaction, for a second longer
/// than a request's database time succeeds once the lock is let go,
/// because Postgres kept answering meanwhile.
#[tokio::test]
async fn an_order_waiting_past_the_database_time_for_a_row_lock_succeeds() {
    olympus_tests::with_app(async |app| {
        let owner = app.signup(Encoding::Json).await;
        let product = app
            .create_product(&owner.access_token, "HELD", "Held", money(100, "EUR"))
            .with("stock", 10)
            .await
            .ok()["product"]["id"]
            .clone();
        let mut holder = app.db.pool().begin().await.unwrap();
        sqlx::query("SELECT 1 FROM product_variants WHERE id = $1::uuid FOR UPDATE")
            .bind(product.as_str().unwrap())
            .execute(&mut *holder)
            .await
            .unwrap();
        let held = olympus_runtime::deadline::DATABASE_TIME + Duration::from_secs(1);
        let started = Instant::now();
        let (reply, ()) = tokio::join!(
            app.create_order(&owner.access_token, &[(&product, 1)])
                .send(),
            async {
                tokio::time::sleep(held).await;
                holder.rollback().await.unwrap();
            }
        );
        assert_eq!(reply.ok()["order"]["status"], "pending_payment");
        assert!(
            started.elapsed() >= held,
            "the order did not wait for the row"
        );
    })
    .await;
}

/// What one reply was: `ok`, the error code, or how the request failed
/// (`timeout` past `timeout`).
async fn classify(
    request: impl std::future::Future<Output = Result<async_nats::Message, async_nats::RequestError>>,
    timeout: Duration,
) -> (String, Option<serde_json::Value>) {
    match tokio::time::timeout(timeout, request).await {
        Ok(Ok(reply)) => {
            let body = serde_json::from_slice::<serde_json::Value>(&reply.payload).ok();
            let failed = reply
                .headers
                .as_ref()
                .is_some_and(|h| h.get("Nats-Service-Error-Code").is_some());
            match (failed, body) {
                (false, body) => ("ok".to_owned(), body),
                (true, Some(body)) => match body["code"].as_str() {
                    Some("unavailable") if body["details"]["outcome"] == "unknown" => {
                        ("unavailable, outcome unknown".to_owned(), Some(body))
                    }
                    Some(code) => (code.to_owned(), Some(body)),
                    None => ("undecodable".to_owned(), Some(body)),
                },
                (true, None) => ("undecodable".to_owned(), None),
            }
        }
        Ok(Err(err)) => (format!("{:?}", err.kind()), None),
        Err(_) => ("timeout".to_owned(), None),
    }
}

fn json_headers(token: &str) -> async_nats::HeaderMap {
    let mut headers = async_nats::HeaderMap::new();
    headers.insert("Content-Type", "application/json");
    headers.insert("Authorization", format!("Bearer {token}"));
    headers
}

/// Callers looping `auth.me` until `stop`, each as one of `users` (access
/// token, user id) in turn; a success that is not the caller's own row is
/// `wrong_user`.
fn me_callers(
    app: &olympus_tests::TestApp,
    users: &[(String, String)],
    callers: usize,
    timeout: Duration,
    stop: &std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> Vec<tokio::task::JoinHandle<Vec<Outcome>>> {
    (0..callers)
        .map(|i| {
            let nats = app.nats.clone();
            let subject = app.subject("auth.v1.me");
            let (token, user_id) = users[i % users.len()].clone();
            let stop = std::sync::Arc::clone(stop);
            tokio::spawn(async move {
                let mut seen = Vec::new();
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let sent = Instant::now();
                    let request = nats.request_with_headers(
                        subject.clone(),
                        json_headers(&token),
                        "{}".into(),
                    );
                    let (mut what, body) = classify(request, timeout).await;
                    if what == "ok" && body.is_none_or(|b| b["user"]["id"] != user_id.as_str()) {
                        what = "wrong_user".to_owned();
                    }
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

/// What a client sends again with the same key.
const RETRIED: [&str; 4] = [
    "unavailable",
    "unavailable, outcome unknown",
    "idempotency_key_in_use",
    "timeout",
];

/// One caller placing orders of one unit of `product` as `owner` until
/// `stop`, each under a key of its own, sent again with that key until it
/// is acknowledged (as a client must after `unavailable` or no reply);
/// returns how many were, and every request's outcome.
fn order_caller(
    app: &olympus_tests::TestApp,
    owner: &olympus_tests::Signup,
    product: &str,
    timeout: Duration,
    stop: &std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> tokio::task::JoinHandle<(i64, Vec<Outcome>)> {
    let nats = app.nats.clone();
    let subject = app.subject("commerce.v1.orders.create");
    let token = owner.access_token.clone();
    let body = json!({"items": [{"product_id": product, "quantity": 1}]}).to_string();
    let stop = std::sync::Arc::clone(stop);
    tokio::spawn(async move {
        let (mut acknowledged, mut seen) = (0, Vec::new());
        while !stop.load(std::sync::atomic::Ordering::Relaxed) {
            let key = uuid::Uuid::new_v4().to_string();
            // Once sent, a key is settled even past `stop`.
            loop {
                let mut headers = json_headers(&token);
                headers.insert("Idempotency-Key", key.as_str());
                let sent = Instant::now();
                let request =
                    nats.request_with_headers(subject.clone(), headers, body.clone().into());
                let (what, _) = classify(request, timeout).await;
                seen.push(Outcome {
                    sent,
                    took: sent.elapsed(),
                    what: what.clone(),
                });
                if what == "ok" {
                    acknowledged += 1;
                    break;
                }
                // A retry while the cut attempt's transaction still
                // holds the key in Postgres is told so; it tries again.
                if !RETRIED.contains(&what.as_str()) {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        (acknowledged, seen)
    })
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
        if let Err(left) = app.outbox_published(Duration::from_secs(10)).await {
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
