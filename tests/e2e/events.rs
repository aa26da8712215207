//! Events through the outbox: one per change, with the contract's subject,
//! envelope and headers; none for a failed change; mail only on the mail
//! subject; nothing lost when NATS goes away; order kept per aggregate.

use olympus_runtime::outbox::Event;
use olympus_tests::app::TestRelay;
use olympus_tests::client::GOOD_PASSWORD;
use olympus_tests::events::Published;
use olympus_tests::nats_server::PrivateNats;
use olympus_tests::ops::Call;
use olympus_tests::{with_app, with_app_opts, Encoding, Options, TestApp};
use serde_json::Value;
use std::collections::HashMap;
use std::time::Duration;
use uuid::Uuid;

const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

/// The reply's body to `call` sent as the gateway sends a client's
/// request: with a correlation id, the client's address, a trace context.
async fn call_as(correlation: &str, call: Call<'_>) -> Value {
    let reply = call
        .header("X-Correlation-Id", correlation)
        .header("X-Client-Ip", "203.0.113.7")
        .header("traceparent", TRACEPARENT)
        .await;
    reply.body()
}

fn assert_envelope(
    app: &TestApp,
    event: &Published,
    tenant_id: &str,
    event_type: &str,
    correlation: &str,
) {
    let body = &event.body;
    let mut keys: Vec<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "actor_id",
            "correlation_id",
            "data",
            "id",
            "occurred_at",
            "schema_version",
            "tenant_id",
            "type"
        ]
    );
    assert_eq!(
        event.subject,
        format!("{}.events.{tenant_id}.{event_type}", app.prefix)
    );
    assert_eq!(body["type"], event_type);
    assert_eq!(body["tenant_id"], tenant_id);
    assert_eq!(body["schema_version"], 1);
    assert_eq!(body["correlation_id"], correlation);
    let id = Uuid::parse_str(body["id"].as_str().unwrap()).unwrap();
    assert_eq!(id.get_version_num(), 7);
    assert_eq!(event.header("Nats-Msg-Id"), Some(id.to_string().as_str()));
    assert_eq!(event.header("Content-Type"), Some("application/json"));
    assert_eq!(event.header("X-Correlation-Id"), Some(correlation));
    // The request's W3C trace context travels on with its events.
    assert_eq!(event.header("traceparent"), Some(TRACEPARENT));
    assert!(body["occurred_at"].as_str().unwrap().ends_with('Z'));
}

fn by_type<'a>(events: &'a [Published], event_type: &str) -> Vec<&'a Published> {
    events
        .iter()
        .filter(|e| e.body["type"] == event_type)
        .collect()
}

#[tokio::test]
async fn every_operation_publishes_its_event_with_the_contract_envelope() {
    with_app(async |app| {
        let slug = "evented";
        let email = "owner@evented.example.com";
        let signup = call_as(
            "corr-signup",
            app.create_tenant(slug, "Evented", email, GOOD_PASSWORD),
        )
        .await;
        let tenant = signup["tenant"]["id"].as_str().unwrap().to_owned();
        let user = signup["owner"]["id"].as_str().unwrap().to_owned();
        let logged_in = call_as("corr-login", app.login(slug, email, GOOD_PASSWORD)).await;
        call_as("corr-failed", app.login(slug, email, "not-the-right-one-1")).await;
        let unknown = app.login(slug, "ghost@evented.example.com", "whatever-it-is-1");
        call_as("corr-unknown", unknown).await;
        let refresh = logged_in["tokens"]["refresh_token"].as_str().unwrap();
        call_as("corr-logout", app.logout(refresh)).await;

        let mail = app.mail(Some(&tenant), Some("verify_email"), 1).await;
        let token = mail[0].body["token"].as_str().unwrap().to_owned();
        let verified = call_as("corr-verify", app.verify_email(&token)).await;
        assert_eq!(verified["user"]["email_verified"], true);

        let events = app.events(Some(&tenant), None, 8).await;
        assert_eq!(
            events.len(),
            8,
            "{:?}",
            events.iter().map(|e| &e.body["type"]).collect::<Vec<_>>()
        );

        let created = by_type(&events, "tenant.created");
        assert_eq!(created.len(), 1);
        assert_envelope(app, created[0], &tenant, "tenant.created", "corr-signup");
        assert_eq!(created[0].body["data"]["tenant"]["slug"], slug);
        assert_eq!(created[0].body["actor_id"], user.as_str());

        let registered = by_type(&events, "user.registered");
        assert_envelope(
            app,
            registered[0],
            &tenant,
            "user.registered",
            "corr-signup",
        );
        assert_eq!(registered[0].body["data"]["user"]["email"], email);
        assert_eq!(registered[0].body["data"]["user"]["role"], "owner");

        let logged_in_events = by_type(&events, "user.logged_in");
        assert_envelope(
            app,
            logged_in_events[0],
            &tenant,
            "user.logged_in",
            "corr-login",
        );
        assert_eq!(logged_in_events[0].body["data"]["user_id"], user.as_str());
        assert_eq!(logged_in_events[0].body["actor_id"], user.as_str());
        assert_eq!(logged_in_events[0].body["data"]["ip"], "203.0.113.7");
        let session = logged_in_events[0].body["data"]["session_id"].clone();

        let failed = by_type(&events, "user.login_failed");
        assert_eq!(failed.len(), 2);
        // Recorded after their replies, for two aggregates (the user, the
        // tenant): the contract orders events within an aggregate only.
        let failure = |correlation: &str| {
            *failed
                .iter()
                .find(|e| e.body["correlation_id"] == correlation)
                .unwrap_or_else(|| panic!("no user.login_failed for {correlation}: {failed:?}"))
        };
        let wrong_password = failure("corr-failed");
        assert_envelope(
            app,
            wrong_password,
            &tenant,
            "user.login_failed",
            "corr-failed",
        );
        assert_eq!(wrong_password.body["data"]["reason"], "wrong_password");
        assert_eq!(wrong_password.body["actor_id"], Value::Null);
        let unknown_user = failure("corr-unknown");
        assert_envelope(
            app,
            unknown_user,
            &tenant,
            "user.login_failed",
            "corr-unknown",
        );
        assert_eq!(unknown_user.body["data"]["reason"], "unknown_user");

        let out = by_type(&events, "user.logged_out");
        assert_envelope(app, out[0], &tenant, "user.logged_out", "corr-logout");
        assert_eq!(out[0].body["data"]["session_id"], session);
        let revoked = by_type(&events, "session.revoked");
        assert_envelope(app, revoked[0], &tenant, "session.revoked", "corr-logout");
        assert_eq!(revoked[0].body["data"]["reason"], "logout");

        let verified = by_type(&events, "user.email_verified");
        assert_envelope(
            app,
            verified[0],
            &tenant,
            "user.email_verified",
            "corr-verify",
        );

        // No event carries a password, hash or token.
        let hash: String = sqlx::query_scalar("SELECT password_hash FROM users")
            .fetch_one(app.db.pool())
            .await
            .unwrap();
        let secrets = [
            GOOD_PASSWORD,
            "not-the-right-one-1",
            "whatever-it-is-1",
            &hash,
            &token,
            refresh,
            signup["tokens"]["access_token"].as_str().unwrap(),
            signup["tokens"]["refresh_token"].as_str().unwrap(),
            logged_in["tokens"]["access_token"].as_str().unwrap(),
        ];
        for event in &events {
            let text = String::from_utf8_lossy(&event.payload);
            for secret in secrets {
                assert!(
                    !text.contains(secret),
                    "{} carries a secret",
                    event.body["type"]
                );
            }
        }
    })
    .await;
}

#[tokio::test]
async fn a_failed_or_rolled_back_change_publishes_nothing() {
    with_app(async |app| {
        let signup = app.signup(Encoding::Json).await;
        let duplicate =
            app.create_tenant(&signup.slug, "Again", "x@again.example.com", GOOD_PASSWORD);
        duplicate.await.err(409, "conflict");
        let invalid = app.create_tenant("ok-slug", "", "x@y.io", GOOD_PASSWORD);
        invalid.await.err(422, "validation_failed");

        // An event recorded in a transaction that rolls back never exists.
        let tenant: Uuid = signup.tenant_id.parse().unwrap();
        let events = test_events(&app.app, "rolled-back");
        let mut tx = app.db.tenant(tenant).await.unwrap();
        events
            .emit(&mut tx, Event::new(tenant, tenant, &verified(tenant, 0)))
            .await
            .unwrap();
        tx.rollback().await.unwrap();
        let rows: i64 =
            sqlx::query_scalar("SELECT count(*) FROM outbox WHERE correlation_id = 'rolled-back'")
                .fetch_one(app.db.pool())
                .await
                .unwrap();
        assert_eq!(rows, 0);

        let created = app.events(None, Some("tenant.created"), 1).await;
        assert_eq!(created.len(), 1, "one signup succeeded, one event");
        let all = app.events(None, None, 2).await;
        assert_eq!(all.len(), 2, "tenant.created and user.registered only");
    })
    .await;
}

/// Events recorded as a request with `correlation_id` records them.
fn test_events<'a>(
    app: &'a olympus_runtime::App,
    correlation_id: &'a str,
) -> olympus_runtime::outbox::Events<'a> {
    olympus_runtime::outbox::Events::new(
        app.subjects(),
        app.clock(),
        app.config().mail_limit_per_hour,
        correlation_id,
        None,
    )
}

/// A typed event carrying `n` (in its email), to check order by.
fn verified(user_id: Uuid, n: usize) -> olympus_contracts::event::data::UserEmailVerified {
    olympus_contracts::event::data::UserEmailVerified {
        user_id,
        email: Some(format!("n{n}@order.example")),
    }
}

/// The `n` of [`verified`].
fn numbered(email: &serde_json::Value) -> u64 {
    let email = email.as_str().unwrap();
    email[1..email.find('@').unwrap()].parse().unwrap()
}

#[tokio::test]
async fn the_verification_token_arrives_only_by_mail_and_works_once() {
    with_app(async |app| {
        let signup = app.signup(Encoding::MsgPack).await;
        let mail = app.mail(None, None, 1).await;
        assert_eq!(mail.len(), 1);
        let message = &mail[0];
        assert_eq!(message.subject, format!("{}.mail.{}.verify_email", app.prefix, signup.tenant_id));
        let mut keys: Vec<&str> = message.body.as_object().unwrap().keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(keys, ["correlation_id", "expires_at", "id", "template", "tenant_id", "to", "token", "user_id"]);
        assert_eq!(message.body["template"], "verify_email");
        assert_eq!(message.body["to"], signup.email);
        assert_eq!(message.body["user_id"], signup.user_id);
        assert_eq!(message.header("Nats-Msg-Id"), message.body["id"].as_str());
        let expires: chrono::DateTime<chrono::Utc> = message.body["expires_at"].as_str().unwrap().parse().unwrap();
        let hours = (expires - chrono::Utc::now()).num_minutes() as f64 / 60.0;
        assert!((23.9..=24.0).contains(&hours), "{hours}");
        let token = message.body["token"].as_str().unwrap().to_owned();

        // Not in any event, not left in the outbox, stored only as a hash.
        let events = app.events(None, None, 2).await;
        assert!(events.iter().all(|e| !String::from_utf8_lossy(&e.payload).contains(&token)));
        // Marked published (and emptied) at most 100 ms after the stream has it.
        if let Err(leftovers) = olympus_tests::wait_for_zero(
            app.db.pool(),
            "SELECT count(*) FROM outbox WHERE kind = 'mail' AND (published_at IS NULL OR length(payload) > 0)",
            Duration::from_secs(5),
        )
        .await
        {
            panic!("published mail keeps no token: {leftovers} rows still hold one");
        }
        let stored: Vec<u8> = sqlx::query_scalar("SELECT token_hash FROM email_verifications")
            .fetch_one(app.db.pool())
            .await
            .unwrap();
        assert_eq!(stored.len(), 32);

        for enc in [Encoding::MsgPack] {
            let user = app.verify_email(&token).encoded(enc).await.ok();
            assert_eq!(user["user"]["email_verified"], true);
            app.verify_email(&token)
                .encoded(enc)
                .await
                .err(401, "invalid_token");
        }
        app.verify_email("forged").await.err(401, "invalid_token");
        let me = app.me(&signup.access_token).await.ok();
        assert_eq!(me["user"]["email_verified"], true);
        let verified = app.events(None, Some("user.email_verified"), 1).await;
        assert_eq!(verified.len(), 1, "verified once, one event");
    })
    .await;
}

#[tokio::test]
async fn changes_commit_while_nats_is_away_and_their_events_follow_when_it_returns() {
    with_app_opts(Options::without_relay(), async |app| {
        // The relay publishes to a NATS server of its own, which this test
        // stops; requests still arrive through the shared one.
        let mut private = PrivateNats::start().await;
        let relay_nats = async_nats::ConnectOptions::new()
            .retry_on_initial_connect()
            .connect(private.url())
            .await
            .unwrap();
        let js = async_nats::jetstream::new(relay_nats.clone());
        olympus_runtime::outbox::ensure_streams(
            &js,
            &app.subjects,
            &olympus_runtime::outbox::StreamSettings::from_config(app.app.config()),
        )
        .await
        .unwrap();
        let relay = TestRelay::start(&app.db, &relay_nats, Duration::from_secs(3600));

        let before = app.signup(Encoding::Json).await;
        private.stop().await;
        let mut during = Vec::new();
        for _ in 0..3 {
            during.push(app.signup(Encoding::Json).await);
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
        let pending: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM outbox WHERE published_at IS NULL AND kind = 'event'",
        )
        .fetch_one(app.db.pool())
        .await
        .unwrap();
        assert!(pending >= 6, "committed, waiting for NATS: {pending}");
        private.resume().await;

        let signups: Vec<_> = std::iter::once(&before).chain(&during).collect();
        olympus_tests::events::assert_one_tenant_created_each(&relay_nats, app, &signups).await;
        relay.stop().await;
    })
    .await;
}

#[tokio::test]
async fn two_relays_keep_each_aggregates_events_in_order_across_a_takeover() {
    with_app_opts(Options::without_relay(), async |app| {
        let signup = app.signup(Encoding::Json).await;
        let tenant: Uuid = signup.tenant_id.parse().unwrap();
        let relay_a = TestRelay::start(&app.db, &app.nats, Duration::from_secs(3600));
        tokio::time::sleep(Duration::from_millis(300)).await;
        let relay_b = TestRelay::start(&app.db, &app.nats, Duration::from_secs(3600));

        let aggregates: Vec<Uuid> = (0..4).map(|_| Uuid::now_v7()).collect();
        let per_aggregate = 40;
        let writers = aggregates.iter().map(|&aggregate| async move {
            let events = test_events(&app.app, "ordered");
            for n in 0..per_aggregate {
                let mut tx = app.db.tenant(tenant).await.unwrap();
                events
                    .emit(
                        &mut tx,
                        Event::new(tenant, aggregate, &verified(aggregate, n)),
                    )
                    .await
                    .unwrap();
                olympus_runtime::db::commit(tx).await.unwrap();
            }
        });
        let takeover = async {
            tokio::time::sleep(Duration::from_millis(150)).await;
            relay_a.stop().await;
        };
        tokio::join!(futures::future::join_all(writers), takeover);

        let events = app
            .events(
                Some(&signup.tenant_id),
                Some("user.email_verified"),
                aggregates.len() * per_aggregate,
            )
            .await;
        assert_eq!(
            events.len(),
            aggregates.len() * per_aggregate,
            "none lost, none twice"
        );
        let mut seen: HashMap<String, Vec<u64>> = HashMap::new();
        for event in &events {
            let data = &event.body["data"];
            seen.entry(data["user_id"].as_str().unwrap().to_owned())
                .or_default()
                .push(numbered(&data["email"]));
        }
        for (aggregate, ns) in seen {
            assert_eq!(
                ns,
                (0..per_aggregate as u64).collect::<Vec<_>>(),
                "order of {aggregate}"
            );
        }
        relay_b.stop().await;
    })
    .await;
}

/// A relay whose marks wait for an hour: everything it publishes stays
/// unmarked until it stops.
fn relay_holding_its_marks(app: &TestApp) -> TestRelay {
    let hour = Duration::from_secs(3600);
    TestRelay::start_relay(
        olympus_runtime::outbox::Relay::new(app.db.pool().clone(), app.nats.clone(), hour)
            .mark_delay(hour),
    )
}

/// How many outbox rows match `state`.
async fn outbox_rows(app: &TestApp, state: &str) -> i64 {
    sqlx::query_scalar(&format!("SELECT count(*) FROM outbox WHERE {state}"))
        .fetch_one(app.db.pool())
        .await
        .unwrap()
}

#[tokio::test]
async fn a_relay_killed_before_marking_what_it_published_leaves_nothing_twice() {
    with_app_opts(Options::without_relay(), async |app| {
        let signup = app.signup(Encoding::Json).await;
        let events = outbox_rows(app, "kind = 'event'").await as usize;
        let mails = outbox_rows(app, "kind = 'mail'").await as usize;
        assert!(events >= 1 && mails >= 1, "{events} events, {mails} mails");
        let relay_a = relay_holding_its_marks(app);
        let published = app.events(Some(&signup.tenant_id), None, events).await;
        assert_eq!(published.len(), events);
        assert_eq!(
            outbox_rows(app, "published_at IS NULL").await as usize,
            events + mails,
            "published, marks still gathering"
        );
        relay_a.kill().await;

        let relay_b = TestRelay::start(&app.db, &app.nats, Duration::from_secs(3600));
        if let Err(left) = app.outbox_published(Duration::from_secs(10)).await {
            panic!("{left} rows unmarked 10 s after the takeover");
        }
        // Published twice, in the stream once (the duplicate window).
        let again = app.events(Some(&signup.tenant_id), None, events).await;
        let ids: std::collections::HashSet<_> =
            again.iter().map(|e| e.header("Nats-Msg-Id")).collect();
        assert_eq!(
            (again.len(), ids.len()),
            (events, events),
            "each event once"
        );
        let mail = app.mail(Some(&signup.tenant_id), None, mails).await;
        assert_eq!(mail.len(), mails, "each mail once");
        relay_b.stop().await;
    })
    .await;
}

/// The mailer has read and acknowledged a mail (gone from the work-queue
/// stream) when the relay that published it dies before marking it: the
/// next relay publishes it again, and the stream drops it as a duplicate
/// (its window remembers the id of a message no longer stored), so the
/// mail is not sent twice.
#[tokio::test]
async fn a_mail_already_taken_by_the_mailer_is_not_queued_again_by_a_takeover() {
    with_app_opts(Options::without_relay(), async |app| {
        let signup = app.signup(Encoding::Json).await;
        let mails = outbox_rows(app, "kind = 'mail'").await as usize;
        assert!(mails >= 1, "{mails} mails");
        let relay_a = relay_holding_its_marks(app);
        let taken = app.mail(Some(&signup.tenant_id), None, mails).await;
        assert_eq!(taken.len(), mails);
        let js = async_nats::jetstream::new(app.nats.clone());
        // The mail stream's messages and its last sequence number.
        let queued = async || {
            let mut stream = js.get_stream(app.subjects.mail_stream()).await.unwrap();
            let state = &stream.info().await.unwrap().state;
            (state.messages, state.last_sequence)
        };
        // Acknowledged, so removed once the server has the ack.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        let last = loop {
            let (messages, last) = queued().await;
            if messages == 0 {
                break last;
            }
            assert!(tokio::time::Instant::now() < deadline, "{messages} mails still queued");
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        assert_eq!(last, mails as u64, "each mail stored once");
        assert_eq!(
            outbox_rows(app, "kind = 'mail' AND published_at IS NULL").await as usize,
            mails,
            "taken, not yet marked"
        );
        relay_a.kill().await;

        let relay_b = TestRelay::start(&app.db, &app.nats, Duration::from_secs(3600));
        if let Err(left) = olympus_tests::wait_for_zero(
            app.db.pool(),
            "SELECT count(*) FROM outbox WHERE published_at IS NULL OR (kind = 'mail' AND length(payload) > 0)",
            Duration::from_secs(10),
        )
        .await
        {
            panic!("{left} rows unmarked 10 s after the takeover");
        }
        // Published again and acknowledged by the stream, not stored.
        assert_eq!(queued().await, (0, last), "no mail queued again");
        relay_b.stop().await;
    })
    .await;
}

#[tokio::test]
async fn a_relay_stopping_marks_what_it_published() {
    with_app_opts(Options::without_relay(), async |app| {
        let signup = app.signup(Encoding::Json).await;
        let events = outbox_rows(app, "kind = 'event'").await as usize;
        let relay = relay_holding_its_marks(app);
        app.events(Some(&signup.tenant_id), None, events).await;
        assert!(outbox_rows(app, "published_at IS NULL").await > 0);
        relay.stop().await;
        assert_eq!(
            outbox_rows(
                app,
                "published_at IS NULL OR (kind = 'mail' AND length(payload) > 0)"
            )
            .await,
            0,
            "marked on shutdown, mail tokens gone"
        );
    })
    .await;
}

#[tokio::test]
async fn streams_have_the_contract_names_and_settings() {
    with_app(async |app| {
        let js = async_nats::jetstream::new(app.nats.clone());
        let mut events = js.get_stream(app.subjects.events_stream()).await.unwrap();
        let config = &events.info().await.unwrap().config;
        assert_eq!(config.name, format!("{}_EVENTS", app.prefix.to_uppercase()));
        assert_eq!(config.subjects, [format!("{}.events.>", app.prefix)]);
        assert_eq!(
            config.storage,
            async_nats::jetstream::stream::StorageType::File
        );
        assert!(config.duplicate_window >= Duration::from_secs(120));
        assert_eq!(
            config.max_age,
            Duration::from_secs(app.app.config().events_max_age)
        );
        let mut mail = js.get_stream(app.subjects.mail_stream()).await.unwrap();
        let config = &mail.info().await.unwrap().config;
        assert_eq!(config.subjects, [format!("{}.mail.>", app.prefix)]);
        assert_eq!(
            config.retention,
            async_nats::jetstream::stream::RetentionPolicy::WorkQueue
        );
        // Idempotent: running the setup again changes nothing and fails nothing.
        olympus_runtime::outbox::ensure_streams(
            &js,
            &app.subjects,
            &olympus_runtime::outbox::StreamSettings::from_config(app.app.config()),
        )
        .await
        .unwrap();
    })
    .await;
}

#[tokio::test]
async fn published_rows_are_pruned_after_the_retention() {
    with_app_opts(Options::without_relay(), async |app| {
        app.signup(Encoding::Json).await;
        // Rows marked as they are published, before the first prune.
        let relay = TestRelay::start_relay(
            olympus_runtime::outbox::Relay::new(
                app.db.pool().clone(),
                app.nats.clone(),
                Duration::ZERO,
            )
            .mark_delay(Duration::ZERO),
        );
        app.events(None, None, 2).await;
        let mut left = i64::MAX;
        for _ in 0..50 {
            left = sqlx::query_scalar("SELECT count(*) FROM outbox")
                .fetch_one(app.db.pool())
                .await
                .unwrap();
            if left == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(left, 0, "published rows are pruned");
        relay.stop().await;
    })
    .await;
}

#[tokio::test]
async fn ended_sessions_are_pruned_with_their_rotated_tokens() {
    with_app_opts(Options::without_relay(), async |app| {
        let signup = app.signup(Encoding::Json).await;
        let live = app
            .login(&signup.slug, &signup.email, &signup.password)
            .await
            .ok();
        let refresh = live["tokens"]["refresh_token"].as_str().unwrap();
        app.refresh(refresh).await.ok();
        app.logout(&signup.refresh_token).await.ok();
        // Sessions opened before migration 0036 kept their rotated tokens'
        // hashes: one for each session.
        sqlx::query(
            "INSERT INTO rotated_refresh_tokens (token_hash, tenant_id, session_id)
             SELECT sha256(convert_to(id::text, 'UTF8')), tenant_id, id FROM sessions",
        )
        .execute(app.db.pool())
        .await
        .unwrap();
        let relay = TestRelay::start_relay(
            olympus_runtime::outbox::Relay::new(
                app.db.pool().clone(),
                app.nats.clone(),
                Duration::from_secs(3600),
            )
            .housekeeping(olympus_auth::housekeeping(&app.config()).into_iter().map(
                |prune| olympus_runtime::outbox::Prune {
                    retention: Duration::ZERO,
                    ..prune
                },
            )),
        );
        let count = async |sql: &str| -> i64 {
            sqlx::query_scalar(sql)
                .fetch_one(app.db.pool())
                .await
                .unwrap()
        };
        let mut left = i64::MAX;
        for _ in 0..50 {
            left = count("SELECT count(*) FROM sessions WHERE revoked_at IS NOT NULL").await;
            if left == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(left, 0, "the logged-out session is pruned");
        assert_eq!(
            count("SELECT count(*) FROM sessions").await,
            1,
            "the live one stays"
        );
        assert_eq!(
            count("SELECT count(*) FROM rotated_refresh_tokens").await,
            1,
            "with its rotated token"
        );
        relay.stop().await;
    })
    .await;
}
