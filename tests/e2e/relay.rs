//! The outbox relay against a NATS server of the test's own, taken away
//! and given back: a backlog resumes within seconds of NATS answering and
//! lands in the stream exactly once; a row already in its stream is not
//! published again past the duplicate window; a leader that cannot publish
//! lets another process's relay lead.

use async_nats::jetstream;
use olympus_runtime::outbox::{self, Relay, StreamSettings};
use olympus_tests::app::TestRelay;
use olympus_tests::nats_server::PrivateNats;
use olympus_tests::{with_app_opts, Options, TestApp};
use std::time::{Duration, Instant};
use uuid::Uuid;

fn no_workers_no_relay() -> Options {
    Options {
        relay: false,
        ..Options::without_workers()
    }
}

fn settings() -> StreamSettings {
    StreamSettings {
        events_max_age: Duration::from_secs(3600),
        replicas: 1,
        subscribers_api: None,
        mailer_consumer: None,
    }
}

/// A tenant row for the outbox's foreign key; its id.
async fn tenant(app: &TestApp) -> Uuid {
    let id = Uuid::now_v7();
    sqlx::query("INSERT INTO tenants (id, slug, name) VALUES ($1, $2, 'Relay')")
        .bind(id)
        .bind(format!("relay-{}", &id.simple().to_string()[24..]))
        .execute(app.db.pool())
        .await
        .unwrap();
    id
}

/// `count` unpublished event rows of `tenant`, each of its own aggregate.
async fn backlog(app: &TestApp, tenant: Uuid, count: i64) {
    sqlx::query(
        "INSERT INTO outbox (id, tenant_id, aggregate_id, kind, subject, correlation_id, payload)
         SELECT gen_random_uuid(), $1, gen_random_uuid(), 'event',
                $2 || '.events.' || $1 || '.relay.test', 'relay-test', convert_to('{}', 'UTF8')
           FROM generate_series(1, $3)",
    )
    .bind(tenant)
    .bind(app.subjects.prefix())
    .bind(count)
    .execute(app.db.pool())
    .await
    .unwrap();
}

/// A relay in the test process publishing through `client`, as `serve`'s
/// does (it looks for rows in doubt in the test's streams).
fn relay(app: &TestApp, client: async_nats::Client) -> TestRelay {
    TestRelay::start_relay(
        Relay::new(app.db.pool().clone(), client, Duration::from_secs(3600)).streams(&app.subjects),
    )
}

/// The events stream's message count, read on a connection of its own
/// (`None` while the server does not answer).
async fn stored(url: &str, app: &TestApp) -> Option<u64> {
    let client = tokio::time::timeout(Duration::from_secs(1), async_nats::connect(url))
        .await
        .ok()?
        .ok()?;
    let js = jetstream::new(client);
    let mut stream = tokio::time::timeout(
        Duration::from_secs(1),
        js.get_stream(app.subjects.events_stream()),
    )
    .await
    .ok()?
    .ok()?;
    Some(stream.info().await.ok()?.state.messages)
}

#[tokio::test]
async fn a_backlog_resumes_within_5s_of_nats_answering_and_lands_once() {
    with_app_opts(no_workers_no_relay(), async |app| {
        // Acknowledged means on disk: the shipped configuration's setting.
        let mut nats =
            PrivateNats::start_with_config("jetstream {\n  sync_interval: always\n}\n", &[]).await;
        let url = nats.url();
        let client = async_nats::connect(&url).await.unwrap();
        outbox::ensure_streams(&jetstream::new(client.clone()), &app.subjects, &settings())
            .await
            .unwrap();
        let tenant = tenant(app).await;
        let rows: i64 =
            std::env::var("OLYMPUS_RELAY_BACKLOG").map_or(100_000, |v| v.parse().unwrap());
        backlog(app, tenant, rows).await;
        let started = Instant::now();
        let relay = relay(app, client);
        // A fifth published, then NATS killed and back a second later.
        while stored(&url, app).await.unwrap_or(0) < (rows as u64) / 5 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        nats.stop().await;
        tokio::time::sleep(Duration::from_secs(1)).await;
        nats.resume().await;
        // Answering: JetStream, which recovers its store first.
        let at_return = loop {
            if let Some(count) = stored(&url, app).await {
                break count;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        let back = Instant::now();
        let resumed = loop {
            let count = stored(&url, app).await.unwrap_or(0);
            if count > at_return {
                break back.elapsed();
            }
            assert!(
                back.elapsed() < Duration::from_secs(5),
                "nothing published 5 s after NATS answered"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        let left = app.outbox_published(Duration::from_secs(240)).await;
        assert_eq!(left, Ok(()), "rows left unpublished");
        let total = stored(&url, app).await.unwrap();
        println!(
            "{rows} rows in {:.1} s; publishing resumed {} ms after NATS answered",
            started.elapsed().as_secs_f64(),
            resumed.as_millis()
        );
        assert_eq!(total, rows as u64, "every row in the stream exactly once");
        relay.stop().await;
        assert_eq!(app.outbox_published(Duration::ZERO).await, Ok(()));
    })
    .await;
}

/// A row whose message a previous leader stored, but did not mark, is not
/// stored again by the next leader once JetStream's duplicate window has
/// passed (here shortened to 100 ms): the leader finds it in the stream.
#[tokio::test]
async fn a_row_already_in_its_stream_is_not_published_again_past_the_duplicate_window() {
    with_app_opts(no_workers_no_relay(), async |app| {
        let nats = PrivateNats::start().await;
        let client = async_nats::connect(nats.url()).await.unwrap();
        let js = jetstream::new(client.clone());
        outbox::ensure_streams(&js, &app.subjects, &settings())
            .await
            .unwrap();
        let mut config = js
            .get_stream(app.subjects.events_stream())
            .await
            .unwrap()
            .info()
            .await
            .unwrap()
            .config
            .clone();
        config.duplicate_window = Duration::from_millis(100);
        js.update_stream(config).await.unwrap();

        let tenant = tenant(app).await;
        backlog(app, tenant, 3).await;
        let rows: Vec<(Uuid, String)> =
            sqlx::query_as("SELECT id, subject FROM outbox ORDER BY seq")
                .fetch_all(app.db.pool())
                .await
                .unwrap();
        // The first two, as a leader that died before marking them left them.
        for (id, subject) in &rows[..2] {
            let mut headers = async_nats::HeaderMap::new();
            headers.insert("Nats-Msg-Id", id.to_string());
            js.publish_with_headers(subject.clone(), headers, "{}".into())
                .await
                .unwrap()
                .await
                .unwrap();
        }
        tokio::time::sleep(Duration::from_millis(300)).await;

        let relay = relay(app, client);
        let left = app.outbox_published(Duration::from_secs(10)).await;
        assert_eq!(left, Ok(()));
        relay.stop().await;
        let stream = js.get_stream(app.subjects.events_stream()).await.unwrap();
        let mut ids = Vec::new();
        for sequence in 1..=stream.cached_info().state.last_sequence.max(3) {
            if let Ok(message) = stream.get_raw_message(sequence).await {
                ids.push(message.headers.get("Nats-Msg-Id").unwrap().to_string());
            }
        }
        let expected: Vec<String> = rows.iter().map(|(id, _)| id.to_string()).collect();
        assert_eq!(ids, expected, "each row once, in order");
    })
    .await;
}

/// A leader whose NATS server stops answering lets go of the lead within
/// `GIVE_UP_AFTER` (10 s), and the relay of a process on another server
/// publishes what waits.
#[tokio::test]
async fn a_leader_that_cannot_publish_lets_another_lead() {
    with_app_opts(no_workers_no_relay(), async |app| {
        let mut lost = PrivateNats::start().await;
        let other = PrivateNats::start().await;
        let (lost_client, other_client) = (
            async_nats::connect(lost.url()).await.unwrap(),
            async_nats::connect(other.url()).await.unwrap(),
        );
        for client in [&lost_client, &other_client] {
            outbox::ensure_streams(&jetstream::new(client.clone()), &app.subjects, &settings())
                .await
                .unwrap();
        }
        let tenant = tenant(app).await;
        let first = relay(app, lost_client);
        backlog(app, tenant, 1).await;
        app.outbox_published(Duration::from_secs(10))
            .await
            .expect("the first relay leads and publishes");
        let second = relay(app, other_client);
        lost.stop().await;
        let lost_at = Instant::now();
        backlog(app, tenant, 10).await;
        let left = app.outbox_published(Duration::from_secs(20)).await;
        assert_eq!(left, Ok(()), "the other relay did not take over");
        let took = lost_at.elapsed();
        println!(
            "the other relay published {} ms after the leader's NATS went",
            took.as_millis()
        );
        assert!(
            took >= Duration::from_secs(9),
            "it led before the first gave up: {took:?}"
        );
        assert_eq!(stored(&other.url(), app).await, Some(10));
        first.kill().await;
        second.stop().await;
    })
    .await;
}
