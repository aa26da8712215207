//! Idempotency keys (contract §6) on an operation marked I
//! (`tenant.members.invite`): at most once per (tenant, operation, key)
//! for 24 hours, the stored reply re-encoded for each retry.

use async_nats::HeaderMap;
use olympus_tests::client::GOOD_PASSWORD;
use olympus_tests::{with_app, Encoding, Reply, Signup, TestApp};
use serde_json::{json, Value};
use std::time::Duration;

async fn invite(
    app: &TestApp,
    enc: Encoding,
    token: &str,
    key: Option<&str>,
    body: Value,
) -> Reply {
    app.call_keyed(enc, "tenant.v1.members.invite", Some(token), key, body)
        .await
}

async fn invitations_to(app: &TestApp, owner: &Signup, email: &str) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM invitations WHERE tenant_id = $1::uuid AND email = $2")
        .bind(&owner.tenant_id)
        .bind(email)
        .fetch_one(app.db.pool())
        .await
        .unwrap()
}

#[tokio::test]
async fn a_retry_gets_the_stored_reply_in_its_own_encoding_and_nothing_runs_twice() {
    with_app(async |app| {
        let owner = app.signup(Encoding::Json).await;
        let token = &owner.access_token;
        let body = json!({"email": "nia@example.com", "role": "member"});
        let first = invite(
            app,
            Encoding::Json,
            token,
            Some("invite-nia-1"),
            body.clone(),
        )
        .await
        .ok();
        let retry = invite(
            app,
            Encoding::MsgPack,
            token,
            Some("invite-nia-1"),
            body.clone(),
        )
        .await;
        assert_eq!(retry.header("Content-Type"), Some("application/msgpack"));
        assert_eq!(retry.payload[0], 0x81, "a MessagePack map of one entry");
        assert_eq!(retry.ok(), first);
        // The same request spelled differently (order, spacing) is the same request.
        let mut headers = HeaderMap::new();
        headers.insert("Content-Type", "application/json");
        headers.insert("Authorization", format!("Bearer {token}"));
        headers.insert("Idempotency-Key", "invite-nia-1");
        let respelled = app
            .raw(
                "tenant.v1.members.invite",
                headers,
                r#"{ "role" : "member",   "email": "nia@example.com" }"#,
            )
            .await
            .ok();
        assert_eq!(respelled, first);

        assert_eq!(invitations_to(app, &owner, "nia@example.com").await, 1);
        let mail = app.mail(Some(&owner.tenant_id), Some("invite"), 1).await;
        assert_eq!(mail.len(), 1, "one invitation mailed");
        let invited = app
            .events(Some(&owner.tenant_id), Some("member.invited"), 1)
            .await;
        assert_eq!(invited.len(), 1, "one member.invited");

        // The same key with another request.
        let reused = invite(
            app,
            Encoding::Json,
            token,
            Some("invite-nia-1"),
            json!({"email": "rex@example.com", "role": "member"}),
        )
        .await
        .err(422, "idempotency_key_reused");
        assert!(reused["message"]
            .as_str()
            .unwrap()
            .contains("different request"));
        // Without a key, or with another, it runs again (a newer invitation).
        let again = invite(app, Encoding::Json, token, None, body.clone())
            .await
            .ok();
        assert_ne!(again["invitation"]["id"], first["invitation"]["id"]);
        // Keys are per tenant: another tenant's same key is its own.
        let other = app.signup(Encoding::Json).await;
        let theirs = invite(
            app,
            Encoding::Json,
            &other.access_token,
            Some("invite-nia-1"),
            body,
        )
        .await
        .ok();
        assert_ne!(theirs["invitation"]["id"], first["invitation"]["id"]);
    })
    .await;
}

#[tokio::test]
async fn concurrent_requests_with_one_key_run_once() {
    with_app(async |app| {
        let owner = app.signup(Encoding::Json).await;
        let body = json!({"email": "rush@example.com", "role": "member"});
        let replies = futures::future::join_all((0..12).map(|i| {
            let enc = if i % 2 == 0 {
                Encoding::Json
            } else {
                Encoding::MsgPack
            };
            invite(app, enc, &owner.access_token, Some("rush"), body.clone())
        }))
        .await;
        let mut ids = Vec::new();
        for reply in &replies {
            match reply.status() {
                200 => ids.push(reply.ok()["invitation"]["id"].clone()),
                _ => {
                    let err = reply.err(409, "idempotency_key_in_use");
                    assert_eq!(err["details"]["retry_after_secs"], 1);
                }
            }
        }
        assert!(!ids.is_empty());
        assert!(
            ids.iter().all(|id| *id == ids[0]),
            "one invitation: {ids:?}"
        );
        assert_eq!(invitations_to(app, &owner, "rush@example.com").await, 1);
        // Once the first is done, every retry gets its reply.
        let late = invite(app, Encoding::Json, &owner.access_token, Some("rush"), body)
            .await
            .ok();
        assert_eq!(late["invitation"]["id"], ids[0]);
    })
    .await;
}

#[tokio::test]
async fn a_coded_error_is_stored_but_one_that_says_retry_is_not() {
    with_app(async |app| {
        let owner = app.signup(Encoding::Json).await;
        let member = app.join(&owner, "taken@example.com", "member").await;
        let taken = json!({"email": "taken@example.com", "role": "member"});
        let first = invite(
            app,
            Encoding::Json,
            &owner.access_token,
            Some("k-taken"),
            taken.clone(),
        )
        .await;
        first.err(409, "conflict");
        app.remove_member(&owner.access_token, &member.user_id)
            .await
            .ok();
        // The address is free now, but the key's outcome was the conflict.
        let retry = invite(
            app,
            Encoding::MsgPack,
            &owner.access_token,
            Some("k-taken"),
            taken.clone(),
        )
        .await;
        let body = retry.err(409, "conflict");
        assert_eq!(body["details"]["field"], "email");
        assert_ne!(
            body["correlation_id"],
            first.body()["correlation_id"],
            "the retry's own correlation id"
        );
        invite(
            app,
            Encoding::Json,
            &owner.access_token,
            Some("k-free"),
            taken,
        )
        .await
        .ok();

        // Five mails an hour to one address; the sixth invitation is
        // rate_limited, which a retry with its key may try again.
        let busy = json!({"email": "busy@example.com", "role": "member"});
        for i in 0..5 {
            invite(
                app,
                Encoding::Json,
                &owner.access_token,
                Some(&format!("busy-{i}")),
                busy.clone(),
            )
            .await
            .ok();
        }
        invite(
            app,
            Encoding::Json,
            &owner.access_token,
            Some("busy-6"),
            busy.clone(),
        )
        .await
        .err(429, "rate_limited");
        app.clock.advance(Duration::from_secs(3601));
        let login = app
            .login(&owner.slug, &owner.email, GOOD_PASSWORD)
            .await
            .ok();
        let token = login["tokens"]["access_token"].as_str().unwrap();
        invite(app, Encoding::Json, token, Some("busy-6"), busy)
            .await
            .ok();
    })
    .await;
}

#[tokio::test]
async fn a_key_lasts_24_hours_and_must_be_printable_ascii() {
    with_app(async |app| {
        let owner = app.signup(Encoding::Json).await;
        let body = json!({"email": "later@example.com", "role": "member"});
        let first = invite(
            app,
            Encoding::Json,
            &owner.access_token,
            Some("day"),
            body.clone(),
        )
        .await
        .ok();
        app.clock.advance(Duration::from_secs(23 * 3600));
        let login = app
            .login(&owner.slug, &owner.email, GOOD_PASSWORD)
            .await
            .ok();
        let token = login["tokens"]["access_token"].as_str().unwrap().to_owned();
        let within = invite(app, Encoding::Json, &token, Some("day"), body.clone())
            .await
            .ok();
        assert_eq!(within, first);
        app.clock.advance(Duration::from_secs(3600 + 1));
        let login = app
            .login(&owner.slug, &owner.email, GOOD_PASSWORD)
            .await
            .ok();
        let token = login["tokens"]["access_token"].as_str().unwrap().to_owned();
        let after = invite(app, Encoding::Json, &token, Some("day"), body.clone())
            .await
            .ok();
        assert_ne!(
            after["invitation"]["id"], first["invitation"]["id"],
            "a new run"
        );

        for bad in ["k".repeat(256), "tab\tkey".to_owned()] {
            let refused = invite(app, Encoding::Json, &token, Some(&bad), body.clone())
                .await
                .err(400, "bad_request");
            assert_eq!(refused["details"]["field"], "Idempotency-Key");
        }
        // Operations not marked I ignore the header.
        let mut headers = HeaderMap::new();
        headers.insert("Content-Type", "application/json");
        headers.insert("Authorization", format!("Bearer {token}"));
        headers.insert("Idempotency-Key", "k".repeat(300).as_str());
        app.raw("auth.v1.me", headers, "{}").await.ok();
    })
    .await;
}

#[tokio::test]
async fn keys_older_than_a_day_are_pruned_by_the_relay() {
    use olympus_tests::{with_app_opts, Options};
    with_app_opts(Options::without_relay(), async |app| {
        let owner = app.signup(Encoding::Json).await;
        for key in ["old", "new"] {
            invite(
                app,
                Encoding::Json,
                &owner.access_token,
                Some(key),
                json!({"email": format!("{key}@example.com"), "role": "member"}),
            )
            .await
            .ok();
        }
        sqlx::query(
            "UPDATE idempotency_keys SET created_at = now() - interval '26 hours' WHERE key = 'old'",
        )
        .execute(app.db.pool())
        .await
        .unwrap();
        let relay = olympus_tests::app::TestRelay::start(&app.db, &app.nats, Duration::from_secs(3600));
        let keys = async || -> Vec<String> {
            sqlx::query_scalar("SELECT key FROM idempotency_keys ORDER BY key")
                .fetch_all(app.db.pool())
                .await
                .unwrap()
        };
        let mut left = Vec::new();
        for _ in 0..50 {
            left = keys().await;
            if left == ["new"] {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(left, ["new"], "the day-old key is pruned, the fresh one kept");
        relay.stop().await;
    })
    .await;
}
