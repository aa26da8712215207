//! A Postgres failover under load: a private primary with a synchronous
//! standby, `olympus serve` reaching it through a TCP proxy (standing in
//! for the DNS name or virtual IP a failover moves: sqlx takes one host
//! per URL), signups and keyed orders going on; the primary is killed
//! (SIGKILL), the standby promoted and the proxy pointed at it. Every
//! signup and order acknowledged is on the new primary, the stock taken
//! is the orders made, every committed event is in the stream once, and
//! while there is no primary callers get coded replies, not time-outs.

use async_nats::HeaderMap;
use futures::StreamExt;
use olympus_tests::postgres_server::PrivatePostgres;
use olympus_tests::tcp_proxy::TcpProxy;
use olympus_tests::{with_app_opts, Encoding, Options, TestApp};
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::OLYMPUS;

#[derive(Default, Debug)]
struct Seen {
    tenants: Vec<String>,
    /// Idempotency key -> order id, for orders acknowledged.
    orders: HashMap<String, String>,
    /// (time, operation, status or "timeout").
    failures: Vec<(Duration, &'static str, String)>,
}

/// One request: `Ok(reply)`, `Err(status)` for an error reply, or
/// `Err("timeout")`.
async fn request(
    app: &TestApp,
    op: &str,
    token: Option<&str>,
    key: Option<&str>,
    body: &Value,
) -> Result<Value, String> {
    let mut headers = HeaderMap::new();
    headers.insert("Content-Type", "application/json");
    if let Some(token) = token {
        headers.insert("Authorization", format!("Bearer {token}"));
    }
    if let Some(key) = key {
        headers.insert("Idempotency-Key", key);
    }
    let Some(reply) = app
        .try_raw(
            op,
            headers,
            Encoding::Json.encode(body),
            Duration::from_secs(5),
        )
        .await
    else {
        return Err("timeout".into());
    };
    match reply.header("Nats-Service-Error-Code") {
        None => Ok(reply.body()),
        Some(status) => Err(format!(
            "{status} {}",
            reply.body()["code"].as_str().unwrap_or("")
        )),
    }
}

#[tokio::test]
async fn a_failover_to_a_synchronous_standby_loses_nothing_acknowledged() {
    with_app_opts(Options { relay: false, ..Options::without_workers() }, async |app| {
        let primary = PrivatePostgres::start().await;
        let standby = primary.synchronous_standby().await;
        let proxy = TcpProxy::start(primary.port).await;
        let url = format!("postgres://postgres@127.0.0.1:{}/olympus", proxy.port);
        let mut serve = app
            .serve_process_with(OLYMPUS, &[], &[("DATABASE_URL", &url), ("OLYMPUS_MIGRATE", "true")])
            .await;
        let owner = app.signup(Encoding::Json).await;
        let product = app.new_product(&owner, "FAILOVER", 100, 1_000_000).await["id"].clone();

        let seen = Mutex::new(Seen::default());
        let stop = AtomicBool::new(false);
        let started = Instant::now();
        let caller = async |caller: usize| {
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                if caller % 2 == 0 {
                    let slug = format!("fo{caller}-{n}-{}", &uuid::Uuid::new_v4().simple().to_string()[..6]);
                    let body = json!({"slug": slug, "name": "Failover",
                        "owner": {"email": format!("ada@{slug}.example"), "password": "velvet-orbit-cactus-harmonica"}});
                    match request(app, "tenant.v1.create", None, None, &body).await {
                        Ok(reply) => seen.lock().unwrap().tenants.push(reply["tenant"]["id"].as_str().unwrap().into()),
                        Err(why) => seen.lock().unwrap().failures.push((started.elapsed(), "tenant.create", why)),
                    }
                } else {
                    // An order, retried with its key until it is answered.
                    let key = format!("order-{caller}-{n}");
                    let body = json!({"items": [{"product_id": product, "quantity": 1}]});
                    loop {
                        match request(app, "commerce.v1.orders.create", Some(&owner.access_token), Some(&key), &body).await {
                            Ok(reply) => {
                                seen.lock().unwrap().orders.insert(key, reply["order"]["id"].as_str().unwrap().into());
                                break;
                            }
                            Err(why) => {
                                seen.lock().unwrap().failures.push((started.elapsed(), "orders.create", why));
                                if stop.load(Ordering::Relaxed) {
                                    break;
                                }
                                tokio::time::sleep(Duration::from_millis(100)).await;
                            }
                        }
                    }
                }
            }
        };
        let fault = async {
            tokio::time::sleep(Duration::from_secs(3)).await;
            let killed_at = started.elapsed();
            primary.kill();
            // The gap: no primary for a second, then the standby takes over.
            tokio::time::sleep(Duration::from_secs(1)).await;
            standby.promote().await;
            proxy.point_to(standby.port);
            let promoted_at = started.elapsed();
            tokio::time::sleep(Duration::from_secs(12)).await;
            stop.store(true, Ordering::Relaxed);
            (killed_at, promoted_at)
        };
        let (_, (killed_at, promoted_at)) =
            tokio::join!(futures::future::join_all((0..4).map(caller)), fault);
        let seen = std::mem::take(&mut *seen.lock().unwrap());

        // Coded replies only, none after 10 s past the promotion.
        let mut kinds: HashMap<String, usize> = HashMap::new();
        for (at, op, why) in &seen.failures {
            *kinds.entry(format!("{op} {why}")).or_default() += 1;
            assert_ne!(why, "timeout", "{op} timed out at {at:?}");
            assert!(why.starts_with("503 unavailable"), "{op}: {why} at {at:?}");
            assert!(*at >= killed_at && *at <= promoted_at + Duration::from_secs(10), "{op}: {why} at {at:?}");
        }
        let last = seen.failures.iter().map(|f| f.0).max();

        // Everything acknowledged is on the new primary.
        // The rows of a one-column query on the new primary.
        let column = async |query: &str| -> HashSet<String> {
            standby.sql_in("olympus", query).await.lines().map(str::to_owned).collect()
        };
        let tenants = column("SELECT id FROM tenants").await;
        for tenant in &seen.tenants {
            assert!(tenants.contains(tenant), "acknowledged tenant {tenant} is not on the new primary");
        }
        let orders = column("SELECT id FROM orders").await;
        for (key, order) in &seen.orders {
            assert!(orders.contains(order), "acknowledged order {key} is not on the new primary");
        }
        assert_eq!(orders.len(), seen.orders.len(), "orders made without an acknowledgement");
        let stock: i64 = standby
            .sql_in("olympus", &format!("SELECT stock FROM product_variants WHERE id = '{}'", product.as_str().unwrap()))
            .await
            .trim()
            .parse()
            .unwrap();
        assert_eq!(1_000_000 - stock, orders.len() as i64, "stock taken != orders");

        // Every committed event published, once.
        let deadline = Instant::now() + Duration::from_secs(20);
        while standby.sql_in("olympus", "SELECT count(*) FROM outbox WHERE published_at IS NULL").await.trim() != "0" {
            assert!(Instant::now() < deadline, "events left unpublished");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let committed = column("SELECT id FROM outbox WHERE kind = 'event'").await;
        let js = async_nats::jetstream::new(app.nats.clone());
        let consumer = js
            .get_stream(app.subjects.events_stream())
            .await
            .unwrap()
            .create_consumer(async_nats::jetstream::consumer::pull::OrderedConfig {
                filter_subject: format!("{}.events.>", app.prefix),
                ..Default::default()
            })
            .await
            .unwrap();
        let pending = consumer.cached_info().num_pending as usize;
        let mut messages = consumer.messages().await.unwrap();
        let mut stored = Vec::new();
        while stored.len() < pending {
            let message = tokio::time::timeout(Duration::from_secs(10), messages.next()).await.unwrap().unwrap().unwrap();
            stored.push(message.headers.as_ref().unwrap().get("Nats-Msg-Id").unwrap().to_string());
        }
        let unique: HashSet<&String> = stored.iter().collect();
        assert_eq!(unique.len(), stored.len(), "an event stored twice");
        for id in &committed {
            assert!(unique.contains(id), "committed event {id} is not in the stream");
        }
        println!(
            "failover: {} signups and {} orders acknowledged, {} events; primary killed at {:.1} s, standby promoted at {:.1} s; failures {kinds:?}, the last at {:?}",
            seen.tenants.len(),
            seen.orders.len(),
            committed.len(),
            killed_at.as_secs_f64(),
            promoted_at.as_secs_f64(),
            last
        );
        assert!(seen.tenants.len() > 10 && seen.orders.len() > 10, "too little load to judge");
        assert!(serve.terminate().await.success());
        standby.remove().await;
        primary.remove().await;
    })
    .await;
}
