//! The workers as NATS micro services: discovery, stats, one reply per
//! request, concurrency and draining.

use futures::StreamExt;
use olympus_tests::{with_app, with_app_opts, Encoding, Options, TestApp};
use serde_json::Value;
use std::time::{Duration, Instant};

/// Every reply to a `$SRV` request within `wait`.
async fn gather(app: &TestApp, subject: &str, wait: Duration) -> Vec<Value> {
    let inbox = app.nats.new_inbox();
    let mut sub = app.nats.subscribe(inbox.clone()).await.unwrap();
    app.nats
        .publish_with_reply(subject.to_owned(), inbox, "".into())
        .await
        .unwrap();
    let mut replies = Vec::new();
    let deadline = tokio::time::Instant::now() + wait;
    while let Ok(Some(message)) = tokio::time::timeout_at(deadline, sub.next()).await {
        replies.push(serde_json::from_slice(&message.payload).unwrap());
    }
    replies
}

/// This test's instances (other tests share the NATS server).
fn ours<'a>(app: &TestApp, infos: &'a [Value]) -> Vec<&'a Value> {
    infos
        .iter()
        .filter(|i| i["metadata"]["subject_prefix"] == app.prefix.as_str())
        .collect()
}

#[tokio::test]
async fn ping_and_info_find_both_services_and_their_endpoints() {
    with_app(async |app| {
        let pings = gather(app, "$SRV.PING", Duration::from_millis(700)).await;
        let mut names: Vec<&str> = ours(app, &pings)
            .iter()
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        names.sort_unstable();
        assert_eq!(
            names,
            ["olympus-auth", "olympus-commerce", "olympus-tenant"]
        );

        // Every operation of contract §5 (revision 3) that these workers
        // own is an endpoint, in the queue group `q`.
        let expected = [
            (
                "auth",
                &[
                    "accept_invite",
                    "change_email",
                    "change_password",
                    "confirm_email_change",
                    "delete_me",
                    "export_me",
                    "introspect",
                    "jwks",
                    "login",
                    "login_mfa",
                    "logout",
                    "logout_all",
                    "me",
                    "mfa.disable",
                    "mfa.recovery_codes.regenerate",
                    "mfa.status",
                    "mfa.totp.confirm",
                    "mfa.totp.enroll",
                    "refresh",
                    "register",
                    "request_password_reset",
                    "resend_verification",
                    "reset_password",
                    "sessions.list",
                    "sessions.revoke",
                    "update_me",
                    "verify_email",
                ][..],
            ),
            (
                "tenant",
                &[
                    "audit.list",
                    "create",
                    "get",
                    "list",
                    "members.invitations.list",
                    "members.invitations.revoke",
                    "members.invite",
                    "members.list",
                    "members.remove",
                    "members.set_role",
                    "reactivate",
                    "suspend",
                    "update",
                ][..],
            ),
        ];
        for (service, operations) in expected {
            let infos = gather(
                app,
                &format!("$SRV.INFO.olympus-{service}"),
                Duration::from_millis(700),
            )
            .await;
            let info = ours(app, &infos)[0];
            assert_eq!(info["version"], env!("CARGO_PKG_VERSION"));
            let mut subjects: Vec<(&str, &str)> = info["endpoints"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| {
                    (
                        e["subject"].as_str().unwrap(),
                        e["queue_group"].as_str().unwrap(),
                    )
                })
                .collect();
            subjects.sort_unstable();
            let p = &app.prefix;
            let expected: Vec<String> = operations
                .iter()
                .map(|op| format!("{p}.{service}.v1.{op}"))
                .collect();
            assert_eq!(
                subjects,
                expected
                    .iter()
                    .map(|s| (s.as_str(), "q"))
                    .collect::<Vec<_>>()
            );
        }
    })
    .await;
}

#[tokio::test]
async fn an_error_is_one_reply_with_a_body_and_counts_in_stats() {
    with_app(async |app| {
        let infos = gather(app, "$SRV.INFO.olympus-tenant", Duration::from_millis(700)).await;
        let id = ours(app, &infos)[0]["id"].as_str().unwrap().to_owned();

        // Listen on our own inbox to count every message that comes back.
        let inbox = app.nats.new_inbox();
        let mut sub = app.nats.subscribe(inbox.clone()).await.unwrap();
        let mut headers = async_nats::HeaderMap::new();
        headers.insert("Content-Type", "application/json");
        app.nats
            .publish_with_reply_and_headers(
                app.subject("tenant.v1.create"),
                inbox,
                headers,
                "{".into(),
            )
            .await
            .unwrap();
        let mut replies = Vec::new();
        let deadline = tokio::time::Instant::now() + Duration::from_millis(700);
        while let Ok(Some(message)) = tokio::time::timeout_at(deadline, sub.next()).await {
            replies.push(message);
        }
        assert_eq!(replies.len(), 1, "exactly one reply");
        let body: Value = serde_json::from_slice(&replies[0].payload).unwrap();
        assert_eq!(body["code"], "bad_request");

        let stats: Value = serde_json::from_slice(
            &app.nats
                .request(format!("$SRV.STATS.olympus-tenant.{id}"), "".into())
                .await
                .unwrap()
                .payload,
        )
        .unwrap();
        let create = stats["endpoints"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["name"] == "create")
            .unwrap();
        assert_eq!(create["num_requests"], 1);
        assert_eq!(create["num_errors"], 1);
        assert!(
            create["last_error"].as_str().unwrap().starts_with("400"),
            "{create}"
        );
    })
    .await;
}

#[tokio::test]
async fn cheap_requests_are_answered_while_logins_queue_for_argon2() {
    let options = Options {
        argon2_concurrency: 1,
        ..Options::default()
    };
    with_app_opts(options, async |app| {
        let signup = app.signup(Encoding::MsgPack).await;
        let started = Instant::now();
        let logins: Vec<_> = (0..6)
            .map(|_| {
                let login = app.login(&signup.slug, &signup.email, &signup.password);
                async move {
                    login.encoded(Encoding::MsgPack).await.ok();
                    started.elapsed()
                }
            })
            .collect();
        let me = async {
            tokio::time::sleep(Duration::from_millis(20)).await;
            app.me(&signup.access_token)
                .encoded(Encoding::MsgPack)
                .await
                .ok();
            started.elapsed()
        };
        let (logins, me) = tokio::join!(futures::future::join_all(logins), me);
        let last_login = logins.iter().max().unwrap();
        assert!(
            me < *last_login,
            "`me` ({me:?}) waited for the queued logins (last at {last_login:?})"
        );
    })
    .await;
}

#[tokio::test]
async fn draining_answers_requests_in_flight_then_stops_taking_new_ones() {
    let options = Options {
        argon2_concurrency: 1,
        ..Options::default()
    };
    with_app_opts(options, async |app| {
        let signup = app.signup(Encoding::Json).await;
        let logins: Vec<_> = (0..4)
            .map(|_| {
                app.login(&signup.slug, &signup.email, &signup.password)
                    .send()
            })
            .collect();
        // Four logins take at least 4 x one Argon2 hash with one permit:
        // at 60 ms all have arrived and some are still being answered.
        let drain = async {
            tokio::time::sleep(Duration::from_millis(60)).await;
            app.stop_workers().await;
        };
        let (replies, ()) = tokio::join!(futures::future::join_all(logins), drain);
        for reply in replies {
            reply.ok();
        }
        let err = app
            .nats
            .request(app.subject("auth.v1.me"), "".into())
            .await
            .unwrap_err();
        assert_eq!(err.kind(), async_nats::RequestErrorKind::NoResponders);
    })
    .await;
}

/// Every operation of the catalog has exactly one endpoint, and no endpoint
/// answers an operation the catalog lacks. (That each endpoint decodes and
/// encodes the types the spec names is the compiler's: an endpoint is made
/// of the operation's declaration, `olympus_contracts::operation::Op`, from
/// which the spec takes its schemas.)
#[test]
fn every_operation_of_the_catalog_has_exactly_one_endpoint() {
    let mut answered = Vec::new();
    for worker in [
        olympus_auth::worker(),
        olympus_tenant::worker(),
        olympus_commerce::worker(),
    ] {
        for endpoint in &worker.endpoints {
            let op = endpoint.operation();
            assert_eq!(
                op.service, worker.service,
                "{} in its service's worker",
                op.name
            );
            answered.push(op);
        }
    }
    for op in olympus_contracts::operation::ALL {
        let endpoints = answered.iter().filter(|a| *a == op).count();
        assert_eq!(
            endpoints,
            1,
            "{}.{} has {endpoints} endpoints",
            op.service.as_str(),
            op.name
        );
    }
    assert_eq!(answered.len(), olympus_contracts::operation::ALL.len());
}

/// The harness has a helper for every operation of the catalog
/// (`olympus_tests::ops`, one each), and none for an operation it lacks.
#[tokio::test]
async fn every_operation_of_the_catalog_has_a_helper() {
    with_app(async |app| {
        let (t, id) = ("token", "0190a4e2-0000-7000-8000-000000000000");
        let price = olympus_tests::ops::money(1, "EUR");
        let calls = [
            app.register(t, t, t),
            app.login(t, t, t),
            app.refresh(t),
            app.logout(t),
            app.logout_all(t),
            app.me(t),
            app.update_me(t, serde_json::json!({})),
            app.verify_email(t),
            app.resend_verification(t),
            app.request_password_reset(t, t),
            app.reset_password(t, t),
            app.change_password(t, t, t),
            app.list_sessions(t),
            app.revoke_session(t, id),
            app.introspect(t),
            app.accept_invite(t, t),
            app.login_mfa(t),
            app.jwks(),
            app.mfa_status(t),
            app.enroll_totp(t),
            app.confirm_totp(t, id, t),
            app.disable_mfa(t, t),
            app.regenerate_recovery_codes(t, t),
            app.change_email(t, t, t),
            app.confirm_email_change(t),
            app.export_me(t),
            app.delete_me(t, t),
            app.create_tenant(t, t, t, t),
            app.get_tenant(t),
            app.update_tenant(t, serde_json::json!({})),
            app.list_members(t),
            app.set_member_role(t, id, t),
            app.remove_member(t, id),
            app.invite_member(t, t, t),
            app.list_invitations(t),
            app.revoke_invitation(t, id),
            app.list_tenants(t),
            app.suspend_tenant(t, id),
            app.reactivate_tenant(t, id),
            app.list_audit(t),
            app.create_product(t, t, t, price.clone()),
            app.get_product(t, id),
            app.list_products(t),
            app.update_product(t, id),
            app.adjust_inventory(t, id, 1),
            app.create_variant(t, id, t, serde_json::json!({}), price.clone()),
            app.update_variant(t, id),
            app.create_promotion(t, t, 1),
            app.get_promotion(t, id),
            app.list_promotions(t),
            app.update_promotion(t, id),
            app.create_cart(t),
            app.get_cart(t, id),
            app.set_cart_item(t, id, id, 1),
            app.update_cart(t, id),
            app.checkout(t, id),
            app.create_order(t, &[]),
            app.get_order(t, id),
            app.list_orders(t),
            app.cancel_order(t, id),
            app.fulfill_order(t, id),
            app.authorize_payment(t, id, t, t),
            app.capture_payment(t, id),
            app.void_payment(t, id),
            app.refund_payment(t, id),
        ];
        let mut helped: Vec<&str> = calls.iter().map(|call| call.op()).collect();
        helped.sort_unstable();
        let mut catalog: Vec<String> = olympus_contracts::operation::ALL
            .iter()
            .map(|op| format!("{}.v1.{}", op.service.as_str(), op.name))
            .collect();
        catalog.sort_unstable();
        assert_eq!(helped, catalog);
    })
    .await;
}

/// `contracts/spec/asyncapi.json` passes the official AsyncAPI parser, and
/// its request channels are the live mesh's `$SRV.INFO` endpoints, one to
/// one.
#[tokio::test]
async fn the_asyncapi_document_is_valid_and_matches_the_live_endpoints() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let validated = tokio::process::Command::new("node")
        .args([
            "tools/asyncapi/validate.mjs",
            "contracts/spec/asyncapi.json",
        ])
        .current_dir(root)
        .output()
        .await
        .expect("running node (see README: npm ci --prefix tools/asyncapi)");
    assert!(
        validated.status.success(),
        "@asyncapi/parser: {}{}",
        String::from_utf8_lossy(&validated.stdout),
        String::from_utf8_lossy(&validated.stderr)
    );
    let document: Value = serde_json::from_str(
        &std::fs::read_to_string(format!("{root}/contracts/spec/asyncapi.json")).unwrap(),
    )
    .unwrap();
    let mut documented: Vec<String> = document["channels"]
        .as_object()
        .unwrap()
        .values()
        .filter_map(|c| c["address"].as_str())
        .filter(|a| !a.contains(".events.") && !a.contains(".mail."))
        .map(|a| a.strip_prefix("olympus.").unwrap().to_owned())
        .collect();
    documented.sort();
    with_app(async |app| {
        let mut live = Vec::new();
        for service in ["auth", "tenant", "commerce"] {
            let infos = gather(
                app,
                &format!("$SRV.INFO.olympus-{service}"),
                Duration::from_millis(700),
            )
            .await;
            let info = ours(app, &infos)[0];
            for endpoint in info["endpoints"].as_array().unwrap() {
                let subject = endpoint["subject"].as_str().unwrap();
                live.push(
                    subject
                        .strip_prefix(&format!("{}.", app.prefix))
                        .unwrap()
                        .to_owned(),
                );
            }
        }
        live.sort();
        assert_eq!(live, documented);
    })
    .await;
}
