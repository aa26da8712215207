//! Hostile callers (contract §1, "Bounds a worker enforces on every
//! request"): nothing a request carries can make a worker publish where it
//! should not, store junk, block the outbox or starve other requests.

use async_nats::HeaderMap;
use futures::StreamExt;
use olympus_runtime::outbox::{dead_letters, Event};
use olympus_tests::{with_app, with_app_opts, Encoding, Options, TestApp};
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use uuid::Uuid;

fn json_headers() -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert("Content-Type", "application/json");
    headers
}

async fn message_count(app: &TestApp, stream: &str) -> u64 {
    let js = async_nats::jetstream::new(app.nats.clone());
    let mut stream = js
        .get_stream(stream)
        .await
        .unwrap_or_else(|e| panic!("stream {stream} is gone: {e}"));
    stream.info().await.unwrap().state.messages
}

/// This test's `$SRV.STATS` entry of `endpoint` in micro service `service`
/// (found by its id in `$SRV.INFO`, whose metadata names the prefix).
pub async fn endpoint_stats(app: &TestApp, service: &str, endpoint: &str) -> Value {
    let inbox = app.nats.new_inbox();
    let mut replies = app.nats.subscribe(inbox.clone()).await.unwrap();
    app.nats
        .publish_with_reply(format!("$SRV.INFO.{service}"), inbox, "".into())
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_millis(700);
    let mut id = None;
    while let Ok(Some(reply)) = tokio::time::timeout_at(deadline, replies.next()).await {
        let info: Value = serde_json::from_slice(&reply.payload).unwrap();
        if info["metadata"]["subject_prefix"] == app.prefix.as_str() {
            id = info["id"].as_str().map(str::to_owned);
        }
    }
    let id = id.expect("this test's service answers $SRV.INFO");
    let stats = app
        .nats
        .request(format!("$SRV.STATS.{service}.{id}"), "".into())
        .await
        .unwrap();
    let stats: Value = serde_json::from_slice(&stats.payload).unwrap();
    stats["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == endpoint)
        .cloned()
        .unwrap_or_else(|| panic!("no endpoint {endpoint} in {stats}"))
}

#[tokio::test]
async fn reply_subjects_outside_the_inbox_are_dropped_unanswered() {
    // A real `olympus serve` answers (its relay too), over NATS.
    with_app_opts(Options::without_workers(), async |app| {
        let mut serve = app.serve_process(crate::OLYMPUS, &[]).await;
        let victim = app.signup(Encoding::Json).await;
        let other = app.signup(Encoding::Json).await;
        app.events(None, None, 4).await;
        let (events, mail) = (app.subjects.events_stream(), app.subjects.mail_stream());
        let (events_before, mail_before) = (
            message_count(app, &events).await,
            message_count(app, &mail).await,
        );
        let forged_event = format!("{}.events.{}.order.paid", app.prefix, other.tenant_id);
        let targets = [
            format!("$JS.API.STREAM.DELETE.{mail}"),
            format!("$JS.API.STREAM.PURGE.{events}"),
            forged_event.clone(),
            "$SYS.REQ.SERVER.PING".to_owned(),
        ];
        // Anything published on these would reach this subscription too.
        let mut sinks = futures::stream::select_all(
            futures::future::join_all(targets.iter().map(|t| app.nats.subscribe(t.clone())))
                .await
                .into_iter()
                .map(Result::unwrap),
        );
        let logout = json!({"refresh_token": victim.refresh_token}).to_string();
        let mut hostile_replies: Vec<String> = targets.to_vec();
        hostile_replies.extend([
            "_INBOX.*".to_owned(),
            "_INBOX.>".to_owned(),
            "_INBOX".to_owned(),
        ]);
        for reply in &hostile_replies {
            for (op, payload) in [
                ("auth.v1.logout", logout.clone()),
                ("auth.v1.me", "{}".to_owned()),
                ("tenant.v1.create", "[".to_owned()),
            ] {
                let mut headers = json_headers();
                headers.insert("Authorization", format!("Bearer {}", victim.access_token));
                app.nats
                    .publish_with_reply_and_headers(
                        app.subject(op),
                        reply.clone(),
                        headers,
                        payload.into(),
                    )
                    .await
                    .unwrap();
            }
        }
        // A request without any reply subject is dropped too.
        app.nats
            .publish_with_headers(
                app.subject("auth.v1.logout"),
                json_headers(),
                logout.clone().into(),
            )
            .await
            .unwrap();

        // Each endpoint takes its requests in order: once these are
        // answered, the hostile ones ahead of them were handled.
        app.me(&victim.access_token).await.ok();
        app.call(Encoding::Json, "tenant.v1.create", None, json!({}))
            .await
            .err(400, "bad_request");
        // The logouts never ran: the session is still live.
        app.logout(&victim.refresh_token).await.ok();

        let stray = tokio::time::timeout(Duration::from_millis(500), sinks.next()).await;
        assert!(
            stray.is_err(),
            "a worker published on a caller's subject: {stray:?}"
        );
        assert_eq!(
            message_count(app, &mail).await,
            mail_before,
            "mail stream intact"
        );
        app.events(None, Some("user.logged_out"), 1).await;
        assert_eq!(
            message_count(app, &events).await,
            events_before + 2,
            "only the real logout's two events were added"
        );
        let forged = app.events(Some(&other.tenant_id), None, 2).await;
        assert!(
            forged.iter().all(|m| m.subject != forged_event),
            "no forged order.paid"
        );

        let me = endpoint_stats(app, "olympus-auth", "me").await;
        assert_eq!(me["data"]["dropped_reply_subjects"], hostile_replies.len());
        let logout = endpoint_stats(app, "olympus-auth", "logout").await;
        assert_eq!(
            logout["data"]["dropped_reply_subjects"],
            hostile_replies.len() + 1
        );
        assert!(serve.terminate().await.success());
    })
    .await;
}

/// Every answer to `subject` on a fresh inbox within 700 ms, as JSON.
async fn srv_answers(app: &TestApp, subject: &str) -> Vec<Value> {
    let inbox = app.nats.new_inbox();
    let mut replies = app.nats.subscribe(inbox.clone()).await.unwrap();
    app.nats
        .publish_with_reply(subject.to_owned(), inbox, "".into())
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_millis(700);
    let mut answers = Vec::new();
    while let Ok(Some(reply)) = tokio::time::timeout_at(deadline, replies.next()).await {
        answers.push(serde_json::from_slice(&reply.payload).unwrap());
    }
    answers
}

/// The micro library's `$SRV.PING/INFO/STATS` answers are held to the same
/// allow-list as the endpoints' replies (vendor/async-nats/PATCHED.md), so
/// they need no NATS permissions to stay off other subjects: on a server
/// without them, a PING once made the workers publish on their own
/// revocation broadcast, and an INFO's answer landed in the mail stream.
#[tokio::test]
async fn srv_requests_are_answered_only_on_an_allowed_inbox() {
    with_app(async |app| {
        // This test's three services (other processes share the server).
        let ours: Vec<Value> = srv_answers(app, "$SRV.INFO")
            .await
            .into_iter()
            .filter(|i| i["metadata"]["subject_prefix"] == app.prefix.as_str())
            .collect();
        assert_eq!(ours.len(), 3, "{ours:?}");
        let auth = ours.iter().find(|i| i["name"] == "olympus-auth").unwrap();
        let id = auth["id"].as_str().unwrap();
        let tenant = Uuid::now_v7();
        let targets = [
            app.subjects.internal("revocations"),
            format!("{}.events.{tenant}.tenant.suspended", app.prefix),
            format!("{}.mail.{tenant}.password_reset", app.prefix),
            "_INBOX".to_owned(),
        ];
        // Anything published on these would reach this subscription too.
        let mut sinks = futures::stream::select_all(
            futures::future::join_all(targets.iter().map(|t| app.nats.subscribe(t.clone())))
                .await
                .into_iter()
                .map(Result::unwrap),
        );
        let mut verbs = Vec::new();
        for verb in ["PING", "INFO", "STATS"] {
            verbs.extend([
                format!("$SRV.{verb}"),
                format!("$SRV.{verb}.olympus-auth"),
                format!("$SRV.{verb}.olympus-auth.{id}"),
            ]);
        }
        for verb in &verbs {
            for reply in &targets {
                app.nats
                    .publish_with_reply(verb.clone(), reply.clone(), "".into())
                    .await
                    .unwrap();
            }
            app.nats.publish(verb.clone(), "".into()).await.unwrap();
        }

        // Each form of each verb still answers an allowed inbox, after the
        // hostile requests (a service takes them in order).
        let answers = futures::future::join_all(verbs.iter().map(|v| srv_answers(app, v))).await;
        for (verb, answers) in verbs.iter().zip(answers) {
            assert!(
                answers.iter().any(|a| a["id"] == id),
                "{verb} not answered by this test's service: {answers:?}"
            );
        }
        // Workers of other processes on this server (other checkouts, other
        // builds) may answer the verbs without a service name: only this
        // test's services are held to its allow-list here.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(1);
        while let Ok(Some(stray)) = tokio::time::timeout_at(deadline, sinks.next()).await {
            let answer: Value = serde_json::from_slice(&stray.payload).unwrap_or_default();
            assert!(
                !ours.iter().any(|o| o["id"] == answer["id"]),
                "a $SRV answer was published on {}: {answer}",
                stray.subject
            );
        }
    })
    .await;
}

#[tokio::test]
async fn oversized_headers_are_refused_and_junk_client_headers_never_stored() {
    // A real `olympus serve` answers (its relay too), over NATS.
    with_app_opts(Options::without_workers(), async |app| {
        let mut serve = app.serve_process(crate::OLYMPUS, &[]).await;
        let signup = app.signup(Encoding::Json).await;
        let login =
            json!({"tenant": signup.slug, "email": signup.email, "password": signup.password});

        let mut headers = json_headers();
        headers.insert("X-Padding", "a".repeat(17 * 1024));
        let err = app
            .raw("auth.v1.login", headers, login.to_string())
            .await
            .err(400, "bad_request");
        assert!(err["message"].as_str().unwrap().contains("16 KiB"), "{err}");

        let mut headers = json_headers();
        headers.insert("X-Client-Ip", "<script>alert(1)</script>");
        headers.insert("User-Agent", format!("<b>{}", "é".repeat(1000)));
        let first = app
            .raw("auth.v1.login", headers, login.to_string())
            .await
            .ok();
        let mut headers = json_headers();
        headers.insert("X-Client-Ip", "::ffff:203.0.113.9");
        let second = app
            .raw("auth.v1.login", headers, login.to_string())
            .await
            .ok();

        let session = |reply: &Value| {
            let token = reply["tokens"]["access_token"].as_str().unwrap();
            let claims = token.split('.').nth(1).unwrap();
            let claims: Value = serde_json::from_slice(
                &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, claims)
                    .unwrap(),
            )
            .unwrap();
            Uuid::parse_str(claims["sid"].as_str().unwrap()).unwrap()
        };
        let stored = |sid: Uuid| {
            sqlx::query_as::<_, (Option<String>, Option<String>)>(
                "SELECT ip, user_agent FROM sessions WHERE id = $1",
            )
            .bind(sid)
            .fetch_one(app.db.pool())
        };
        let (ip, agent) = stored(session(&first)).await.unwrap();
        assert_eq!(ip, None, "junk X-Client-Ip is ignored");
        let agent = agent.unwrap();
        assert_eq!(agent.len(), 511, "cut to 512 bytes at a character boundary");
        assert!(agent.starts_with("<b>é"));
        let (ip, _) = stored(session(&second)).await.unwrap();
        assert_eq!(ip.as_deref(), Some("203.0.113.9"), "stored normalized");

        let logins = app
            .events(Some(&signup.tenant_id), Some("user.logged_in"), 2)
            .await;
        let ips: Vec<&Value> = logins.iter().map(|m| &m.body["data"]["ip"]).collect();
        assert_eq!(ips, [&Value::Null, &json!("203.0.113.9")]);
        assert!(serve.terminate().await.success());
    })
    .await;
}

#[tokio::test]
async fn a_million_quote_header_cannot_stop_the_events() {
    // A real `olympus serve` answers (its relay too), over NATS.
    with_app_opts(Options::without_workers(), async |app| {
        let mut serve = app.serve_process(crate::OLYMPUS, &[]).await;
        let victim = app.signup(Encoding::Json).await;
        let mut headers = json_headers();
        headers.insert("X-Client-Ip", "\"".repeat(1_000_000));
        let reply = app
            .raw(
                "auth.v1.login",
                headers,
                json!({"tenant": victim.slug, "email": victim.email, "password": "wrong-password-1"})
                    .to_string(),
            )
            .await;
        reply.err(400, "bad_request");

        // The same junk within the header bound is ignored, and the failed
        // login is recorded without it.
        let mut headers = json_headers();
        headers.insert("X-Client-Ip", "\"".repeat(15_000));
        app.raw(
            "auth.v1.login",
            headers,
            json!({"tenant": victim.slug, "email": victim.email, "password": "wrong-password-1"})
                .to_string(),
        )
        .await
        .err(401, "invalid_credentials");
        let failed = app.events(Some(&victim.tenant_id), Some("user.login_failed"), 1).await;
        assert_eq!(failed[0].body["data"]["ip"], Value::Null);

        let started = Instant::now();
        let newcomer = app.signup(Encoding::Json).await;
        let created = app.events(Some(&newcomer.tenant_id), Some("tenant.created"), 1).await;
        assert_eq!(created.len(), 1);
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "a new tenant's events took {:?}",
            started.elapsed()
        );
        assert!(serve.terminate().await.success());
    })
    .await;
}

#[tokio::test]
async fn a_handler_cannot_record_an_event_too_large_to_publish() {
    with_app(async |app| {
        let signup = app.signup(Encoding::Json).await;
        let tenant: Uuid = signup.tenant_id.parse().unwrap();
        let events = olympus_runtime::outbox::Events::new(
            app.app.subjects(),
            app.app.clock(),
            5,
            "hostile-test",
            None,
        );
        let mut tx = app.app.db().tenant(tenant).await.unwrap();
        let huge = olympus_contracts::event::data::UserEmailVerified {
            user_id: tenant,
            // Escaped in JSON, each quote takes two bytes.
            email: Some("\"".repeat(olympus_runtime::outbox::MAX_PAYLOAD_BYTES / 2 + 1)),
        };
        let err = events
            .emit(&mut tx, Event::new(tenant, tenant, &huge))
            .await
            .unwrap_err();
        assert_eq!(err.code(), olympus_contracts::ErrorCode::Internal);
        drop(tx);
        let rows: i64 =
            sqlx::query_scalar("SELECT count(*) FROM outbox WHERE correlation_id = 'hostile-test'")
                .fetch_one(app.db.pool())
                .await
                .unwrap();
        assert_eq!(rows, 0);
    })
    .await;
}

#[tokio::test]
async fn the_relay_parks_rows_it_can_never_publish_and_keeps_the_rest_flowing() {
    with_app(async |app| {
        let first = app.signup(Encoding::Json).await;
        app.events(None, None, 2).await;
        // Rows no handler can write any more, as an older version or a bug
        // might have left them: too large for NATS, and an invalid subject.
        let tenant: Uuid = first.tenant_id.parse().unwrap();
        let aggregate = Uuid::now_v7();
        let poison = [
            (format!("{}.events.{tenant}.user.login_failed", app.prefix), vec![b'x'; 2_000_000]),
            (format!("{}.events.{tenant}.bad subject", app.prefix), b"{}".to_vec()),
        ];
        let mut ids = Vec::new();
        for (subject, payload) in poison {
            let id = Uuid::now_v7();
            sqlx::query(
                "INSERT INTO outbox (id, tenant_id, aggregate_id, kind, subject, correlation_id, payload)
                 VALUES ($1, $2, $3, 'event', $4, 'poison', $5)",
            )
            .bind(id)
            .bind(tenant)
            .bind(aggregate)
            .bind(subject)
            .bind(payload)
            .execute(app.db.pool())
            .await
            .unwrap();
            ids.push(id);
        }
        let started = Instant::now();
        let second = app.signup(Encoding::Json).await;
        let events = app.events(Some(&second.tenant_id), None, 2).await;
        let types: Vec<&str> = events.iter().map(|m| m.body["type"].as_str().unwrap()).collect();
        assert_eq!(types, ["tenant.created", "user.registered"], "in order");
        assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());

        let parked = dead_letters::list(app.db.pool()).await.unwrap();
        assert_eq!(parked.iter().map(|l| l.id).collect::<Vec<_>>(), ids);
        assert!(parked[0].error.contains("max_payload"), "{}", parked[0].error);
        assert_eq!(parked[0].payload_bytes, 2_000_000);
        assert!(parked[1].error.contains("invalid subject"), "{}", parked[1].error);
        let left: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox WHERE correlation_id = 'poison'")
            .fetch_one(app.db.pool())
            .await
            .unwrap();
        assert_eq!(left, 0, "parked rows left the outbox");

        // Re-queued after the cause is fixed, a row is published.
        sqlx::query("UPDATE outbox_dead_letters SET payload = '{}', subject = $2 WHERE id = $1")
            .bind(ids[0])
            .bind(format!("{}.events.{tenant}.user.login_failed", app.prefix))
            .execute(app.db.pool())
            .await
            .unwrap();
        assert!(dead_letters::requeue(app.db.pool(), ids[0]).await.unwrap());
        assert!(!dead_letters::requeue(app.db.pool(), Uuid::now_v7()).await.unwrap());
        let requeued = app.events(Some(&first.tenant_id), Some("user.login_failed"), 1).await;
        assert_eq!(requeued[0].header("Nats-Msg-Id"), Some(ids[0].to_string().as_str()));
        assert_eq!(dead_letters::list(app.db.pool()).await.unwrap().len(), 1);
    })
    .await;
}

#[tokio::test]
async fn reset_role_and_set_role_cannot_leave_the_tenant() {
    with_app(async |app| {
        let a = app.signup(Encoding::Json).await;
        let b = app.signup(Encoding::Json).await;
        let a_id: Uuid = a.tenant_id.parse().unwrap();

        let mut tx = app.app.db().tenant(a_id).await.unwrap();
        sqlx::query("RESET ROLE").execute(&mut *tx).await.unwrap();
        let (user, superuser, bypass): (String, bool, bool) = sqlx::query_as(
            "SELECT current_user::text, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user",
        )
        .fetch_one(&mut *tx)
        .await
        .unwrap();
        assert_eq!((user.as_str(), superuser, bypass), ("olympus_app", false, false));
        let emails: Vec<String> = sqlx::query_scalar("SELECT email FROM users")
            .fetch_all(&mut *tx)
            .await
            .unwrap();
        assert_eq!(emails, [a.email.as_str()], "still only tenant a after RESET ROLE");
        let escape = sqlx::query("SET ROLE postgres").execute(&mut *tx).await.unwrap_err();
        assert!(escape.to_string().contains("permission denied"), "{escape}");
        drop(tx);

        let mut tx = app.app.db().tenant(a_id).await.unwrap();
        let escape = sqlx::query("SET SESSION AUTHORIZATION postgres")
            .execute(&mut *tx)
            .await
            .unwrap_err();
        assert!(escape.to_string().contains("permission denied"), "{escape}");
        drop(tx);

        // Slugs resolve for a login, and nothing else of other tenants shows.
        let mut tx = app.app.db().unscoped().await.unwrap();
        let found: Option<Uuid> = sqlx::query_scalar("SELECT id FROM olympus_tenant_by_slug($1)")
            .bind(&b.slug)
            .fetch_optional(&mut *tx)
            .await
            .unwrap();
        assert_eq!(found.map(|id| id.to_string()), Some(b.tenant_id.clone()));
        let tenants: i64 = sqlx::query_scalar("SELECT count(*) FROM tenants")
            .fetch_one(&mut *tx)
            .await
            .unwrap();
        assert_eq!(tenants, 0);
    })
    .await;
}

#[tokio::test]
async fn a_login_flood_is_shed_with_unavailable_while_cheap_requests_flow() {
    let options = Options {
        argon2_concurrency: 1,
        argon2_queue: 3,
        ..Options::default()
    };
    with_app_opts(options, async |app| {
        let signup = app.signup(Encoding::MsgPack).await;
        let logins: Vec<_> = (0..40)
            .map(|i| {
                let login = app.login(&signup.slug, &signup.email, &format!("wrong-{i}"));
                async move {
                    let started = Instant::now();
                    let reply = login.encoded(Encoding::MsgPack).await;
                    (reply, started.elapsed())
                }
            })
            .collect();
        let me = async {
            tokio::time::sleep(Duration::from_millis(20)).await;
            let started = Instant::now();
            app.me(&signup.access_token)
                .encoded(Encoding::MsgPack)
                .await
                .ok();
            started.elapsed()
        };
        let (replies, me) = tokio::join!(futures::future::join_all(logins), me);
        let mut shed = 0;
        let mut refused = 0;
        for (reply, _) in &replies {
            match reply.status() {
                503 => {
                    let body = reply.err(503, "unavailable");
                    assert_eq!(body["details"]["retry_after_secs"], 1);
                    shed += 1;
                }
                _ => {
                    reply.err(401, "invalid_credentials");
                    refused += 1;
                }
            }
        }
        assert!(refused >= 4, "the hashing slots and the queue were used: {refused}");
        assert!(shed >= 20, "the rest was shed: {shed} of 40");
        let slowest_shed = replies
            .iter()
            .filter(|(r, _)| r.status() == 503)
            .map(|(_, t)| *t)
            .max()
            .unwrap();
        let slowest_refusal = replies
            .iter()
            .filter(|(r, _)| r.status() == 401)
            .map(|(_, t)| *t)
            .max()
            .unwrap();
        assert!(
            slowest_shed < slowest_refusal,
            "shed logins are answered before the queued ones ({slowest_shed:?} vs {slowest_refusal:?})"
        );
        assert!(me < slowest_refusal, "`me` ({me:?}) did not wait behind the logins");
    })
    .await;
}

/// Issue 37: the hashing queue is shared among the parties asking. A flood
/// of logins from one address keeps every place taken; logins from another
/// address still get a place (and a turn on the hashing thread), never
/// `unavailable`, while the flood's are shed.
#[tokio::test]
async fn a_login_flood_from_one_address_does_not_shed_another_addresss_logins() {
    let options = Options {
        argon2_concurrency: 1,
        argon2_queue: 3,
        ..Options::default()
    };
    with_app_opts(options, async |app| {
        let signup = app.signup(Encoding::MsgPack).await;
        let login = |ip: &'static str| {
            app.login(&signup.slug, &signup.email, &signup.password)
                .header("X-Client-Ip", ip)
                .encoded(Encoding::MsgPack)
        };
        let quiet_done = std::sync::atomic::AtomicBool::new(false);
        let flood = futures::future::join_all((0..8).map(|_| async {
            let (mut answered, mut shed) = (0, 0);
            while !quiet_done.load(std::sync::atomic::Ordering::Relaxed) {
                match login("203.0.113.9").await {
                    reply if reply.status() == 503 => {
                        reply.err(503, "unavailable");
                        shed += 1;
                    }
                    reply => {
                        reply.ok();
                        answered += 1;
                    }
                }
            }
            (answered, shed)
        }));
        let quiet = async {
            tokio::time::sleep(Duration::from_millis(200)).await;
            for _ in 0..5 {
                login("198.51.100.7").await.ok();
            }
            quiet_done.store(true, std::sync::atomic::Ordering::Relaxed);
        };
        let (flood, ()) = tokio::join!(flood, quiet);
        let shed: u32 = flood.iter().map(|f| f.1).sum();
        let answered: u32 = flood.iter().map(|f| f.0).sum();
        assert!(
            shed > 0 && answered > 0,
            "the flood filled the queue: {flood:?}"
        );
    })
    .await;
}

/// The shipped NATS configuration keeps replies out of JetStream's API and
/// the event subjects too, a fence of its own beside the workers' reply
/// allow-list (which covers `$SRV.PING/INFO/STATS` since the micro library
/// was patched: `srv_requests_are_answered_only_on_an_allowed_inbox`). Run
/// against it, with the workers' and the relay's users.
#[tokio::test]
async fn the_shipped_nats_permissions_keep_micro_replies_out_of_jetstream() {
    let options = Options {
        relay: false,
        ..Options::without_workers()
    };
    with_app_opts(options, async |app| {
        use olympus_tests::nats_server::{self, PrivateNats, SHIPPED_PASSWORDS};
        let nats = PrivateNats::start_shipped(&SHIPPED_PASSWORDS).await;
        let url = |user: &str, password: &str| nats_server::url_as(nats.port, user, password);
        let env = nats_server::shipped_serve_env(nats.port);
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let mut serve = app.serve_process_with(crate::OLYMPUS, &[], &env).await;
        let connect = async |user: &str, password: &str, inbox: &str| {
            olympus_runtime::nats::options(&url(user, password))
                .unwrap()
                .custom_inbox_prefix(inbox)
                .connect(url(user, password))
                .await
                .unwrap()
        };
        let gateway = connect("gateway-1", "gateway-1-pw", "_INBOX_gateway.1").await;
        // The relay's user may look at both streams.
        let relay = connect("olympus-relay", "relay-pw", "_INBOX_olympus").await;
        let count = async |client: &async_nats::Client, stream: &str| {
            let js = async_nats::jetstream::new(client.clone());
            js.get_stream(stream).await.unwrap().info().await.unwrap().state.messages
        };

        let signup = json!({"slug": "acme", "name": "Acme", "owner": {"email": "ada@acme.example", "password": "velvet-orbit-cactus-harmonica"}});
        let reply = gateway
            .request_with_headers("olympus.tenant.v1.create", json_headers(), signup.to_string().into())
            .await
            .unwrap();
        assert!(reply.headers.as_ref().and_then(|h| h.get("Nats-Service-Error-Code")).is_none());
        let tenant = serde_json::from_slice::<Value>(&reply.payload).unwrap()["tenant"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let deadline = Instant::now() + Duration::from_secs(5);
        // The relay sends a wave of rows before it awaits their acks: the
        // two streams fill in either order.
        while (count(&relay, "OLYMPUS_EVENTS").await < 2 || count(&relay, "OLYMPUS_MAIL").await < 1)
            && Instant::now() < deadline
        {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(count(&relay, "OLYMPUS_EVENTS").await, 2, "the relay's user publishes events");
        assert_eq!(count(&relay, "OLYMPUS_MAIL").await, 1, "and mail");

        let targets = [
            "$JS.API.STREAM.PURGE.OLYMPUS_EVENTS".to_owned(),
            "$JS.API.STREAM.DELETE.OLYMPUS_MAIL".to_owned(),
            format!("olympus.events.{tenant}.order.paid"),
        ];
        for verb in ["$SRV.PING", "$SRV.INFO", "$SRV.STATS", "$SRV.PING.olympus-auth", "olympus.auth.v1.me"] {
            for target in &targets {
                gateway
                    .publish_with_reply(verb, target.clone(), "".into())
                    .await
                    .unwrap();
            }
        }
        // Still answering, so every hostile verb above was handled.
        gateway.request("$SRV.PING.olympus-auth", "".into()).await.unwrap();
        // A forged event would be in the stream (it takes olympus.events.>).
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(count(&relay, "OLYMPUS_EVENTS").await, 2, "events neither purged nor forged");
        assert_eq!(count(&relay, "OLYMPUS_MAIL").await, 1, "mail stream not deleted");
        assert!(serve.terminate().await.success());
    })
    .await;
}
