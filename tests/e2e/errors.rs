//! Every bad input gets its coded error reply, in the request's encoding,
//! and the worker keeps serving.

use async_nats::HeaderMap;
use olympus_tests::client::GOOD_PASSWORD;
use olympus_tests::{with_app, Encoding};
use serde_json::json;

fn content_type(value: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert("Content-Type", value);
    headers
}

fn valid_signup(slug: &str) -> serde_json::Value {
    json!({
        "slug": slug,
        "name": "Acme",
        "owner": {"email": format!("owner@{slug}.example.com"), "password": GOOD_PASSWORD}
    })
}

#[tokio::test]
async fn undecodable_bytes_are_bad_request_in_both_encodings() {
    with_app(async |app| {
        for (enc, garbage) in [
            (Encoding::MsgPack, &b"\xc1\xff\x00garbage"[..]),
            (Encoding::Json, b"{\"slug\": "),
            (Encoding::MsgPack, b"\x92\xa1a\xa1b"),
            (Encoding::Json, b"[1, 2]"),
        ] {
            let reply = app
                .raw(
                    "tenant.v1.create",
                    content_type(enc.content_type()),
                    garbage,
                )
                .await;
            assert_eq!(
                reply.encoding(),
                enc,
                "the error is in the request's encoding"
            );
            reply.err(400, "bad_request");
        }
        // Still serving.
        app.signup(Encoding::Json).await;
    })
    .await;
}

#[tokio::test]
async fn unknown_fields_are_rejected_naming_the_field() {
    with_app(async |app| {
        for enc in Encoding::BOTH {
            let mut body = valid_signup("unknown-field");
            body["plan"] = json!("gold");
            let err = app
                .call(enc, "tenant.v1.create", None, body)
                .await
                .err(400, "bad_request");
            assert_eq!(err["details"]["field"], "plan");

            let mut body = valid_signup("unknown-nested");
            body["owner"]["is_admin"] = json!(true);
            let err = app
                .call(enc, "tenant.v1.create", None, body)
                .await
                .err(400, "bad_request");
            assert_eq!(err["details"]["field"], "owner.is_admin");
        }
    })
    .await;
}

#[tokio::test]
async fn missing_fields_and_wrong_types_are_rejected_naming_the_field() {
    with_app(async |app| {
        for enc in Encoding::BOTH {
            let err = app
                .call(
                    enc,
                    "auth.v1.login",
                    None,
                    json!({"tenant": "acme", "email": "a@b.co"}),
                )
                .await
                .err(400, "bad_request");
            assert_eq!(err["details"]["field"], "password");

            let mut body = valid_signup("missing-nested");
            body["owner"].as_object_mut().unwrap().remove("email");
            let err = app
                .call(enc, "tenant.v1.create", None, body)
                .await
                .err(400, "bad_request");
            assert_eq!(err["details"]["field"], "owner.email");

            let err = app
                .call(
                    enc,
                    "auth.v1.refresh",
                    None,
                    json!({"refresh_token": 12345}),
                )
                .await
                .err(400, "bad_request");
            assert_eq!(err["details"]["field"], "refresh_token");
        }
        // An empty payload is an empty map: fine when nothing is required.
        let err = app
            .raw("auth.v1.login", HeaderMap::new(), Vec::new())
            .await
            .err(400, "bad_request");
        assert_eq!(err["details"]["field"], "tenant");
    })
    .await;
}

#[tokio::test]
async fn payloads_over_256_kib_are_413() {
    with_app(async |app| {
        for enc in Encoding::BOTH {
            let body = json!({"refresh_token": "x".repeat(256 * 1024)});
            let reply = app.call(enc, "auth.v1.refresh", None, body).await;
            assert_eq!(reply.encoding(), enc);
            reply.err(413, "payload_too_large");
        }
        // Just under the limit is decoded (and is merely an unknown token).
        let body = json!({"refresh_token": "x".repeat(256 * 1024 - 100)});
        app.call(Encoding::Json, "auth.v1.refresh", None, body)
            .await
            .err(401, "invalid_token");
    })
    .await;
}

#[tokio::test]
async fn other_content_types_are_415_answered_in_msgpack() {
    with_app(async |app| {
        for value in ["text/plain", "application/xml", "", "application/jsonx"] {
            let reply = app.raw("tenant.v1.create", content_type(value), "{}").await;
            assert_eq!(reply.header("Content-Type"), Some("application/msgpack"));
            let err = reply.err(415, "unsupported_media_type");
            assert!(err["message"]
                .as_str()
                .unwrap()
                .contains("application/json"));
        }
        // Parameters are fine.
        let reply = app
            .raw(
                "tenant.v1.create",
                content_type("application/json; charset=utf-8"),
                serde_json::to_vec(&valid_signup("with-charset")).unwrap(),
            )
            .await;
        reply.ok();
    })
    .await;
}

#[tokio::test]
async fn a_taken_slug_is_conflict_on_slug() {
    with_app(async |app| {
        for enc in Encoding::BOTH {
            let signup = app.signup(enc).await;
            let err = app
                .call(enc, "tenant.v1.create", None, valid_signup(&signup.slug))
                .await
                .err(409, "conflict");
            assert_eq!(err["details"]["field"], "slug");
        }
        // Nothing of the failed signup was kept: one tenant per slug, one user each.
        let users: i64 = sqlx::query_scalar("SELECT count(*) FROM users")
            .fetch_one(app.db.pool())
            .await
            .unwrap();
        assert_eq!(users, 2);
    })
    .await;
}

#[tokio::test]
async fn invalid_slug_email_name_and_password_are_all_listed() {
    with_app(async |app| {
        for enc in Encoding::BOTH {
            let err = app
                .call(
                    enc,
                    "tenant.v1.create",
                    None,
                    json!({
                        "slug": "-Bad_Slug",
                        "name": "  ",
                        "owner": {"email": "not-an-email", "password": "password", "display_name": ""}
                    }),
                )
                .await
                .err(422, "validation_failed");
            let fields = err["details"]["fields"].as_object().unwrap();
            let mut names: Vec<&str> = fields.keys().map(String::as_str).collect();
            names.sort_unstable();
            assert_eq!(
                names,
                ["name", "owner.display_name", "owner.email", "owner.password", "slug"]
            );
            let slug: Vec<&str> = fields["slug"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m.as_str().unwrap())
                .collect();
            assert_eq!(
                slug,
                ["may contain only a-z, 0-9 and -", "must not start or end with -"]
            );
            assert!(fields["owner.password"].as_array().unwrap().len() >= 2);
        }
        for (slug, message) in [
            ("ab", "must be 3 to 63 characters"),
            ("platform", "is reserved"),
            ("acme-", "must not start or end with -"),
        ] {
            let err = app
                .call(Encoding::Json, "tenant.v1.create", None, valid_signup(slug))
                .await
                .err(422, "validation_failed");
            assert_eq!(err["details"]["fields"]["slug"], json!([message]), "{slug}");
        }
        let tenants: i64 = sqlx::query_scalar("SELECT count(*) FROM tenants")
            .fetch_one(app.db.pool())
            .await
            .unwrap();
        assert_eq!(tenants, 0);
    })
    .await;
}

#[tokio::test]
async fn a_duplicate_email_within_a_tenant_is_conflict_on_email() {
    with_app(async |app| {
        let signup = app.signup(Encoding::Json).await;
        // The same email may own another tenant.
        let mut body = valid_signup("second-tenant");
        body["owner"]["email"] = json!(signup.email.to_uppercase());
        app.call(Encoding::Json, "tenant.v1.create", None, body)
            .await
            .ok();
        // But within one tenant the unique key holds.
        let err = sqlx::query(
            "INSERT INTO users (id, tenant_id, email, display_name, role, password_hash)
             SELECT gen_random_uuid(), tenant_id, email, 'x', 'member', 'x' FROM users WHERE id = $1::uuid",
        )
        .bind(&signup.user_id)
        .execute(app.db.pool())
        .await
        .unwrap_err();
        assert!(olympus_runtime::error::is_unique_violation(&err, "users_tenant_email_key"));
    })
    .await;
}

#[tokio::test]
async fn json_without_its_content_type_is_told_what_to_send() {
    with_app(async |app| {
        // As an operator's `nats req` without -H sends it.
        let reply = app
            .raw("auth.v1.login", HeaderMap::new(), r#"{"tenant": "acme"}"#)
            .await;
        assert_eq!(reply.encoding(), Encoding::MsgPack);
        let err = reply.err(400, "bad_request");
        assert!(
            err["message"]
                .as_str()
                .unwrap()
                .contains("Content-Type: application/json"),
            "{err}"
        );
    })
    .await;
}

#[tokio::test]
async fn positional_arrays_are_refused_at_every_level() {
    with_app(async |app| {
        for enc in Encoding::BOTH {
            let body = json!({"slug": "arrays", "name": "Arrays", "owner": ["owner@arrays.example.com", GOOD_PASSWORD]});
            let err = app
                .call(enc, "tenant.v1.create", None, body)
                .await
                .err(400, "bad_request");
            assert_eq!(err["details"]["field"], "owner", "{enc:?}");
        }
    })
    .await;
}
