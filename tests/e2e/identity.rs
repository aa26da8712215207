//! The slice end to end: signup, login, me, refresh, logout, tenant.get,
//! in both encodings, checked field by field against the contract.

use olympus_tests::client::GOOD_PASSWORD;
use olympus_tests::{with_app, Encoding};
use serde_json::{json, Value};

fn keys(value: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> = value
        .as_object()
        .unwrap_or_else(|| panic!("{value} is not an object"))
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    keys
}

const USER_FIELDS: [&str; 11] = [
    "created_at",
    "display_name",
    "email",
    "email_verified",
    "id",
    "last_login_at",
    "mfa_enabled",
    "phone",
    "role",
    "tenant_id",
    "updated_at",
];

fn assert_tokens(tokens: &Value) {
    assert_eq!(
        keys(tokens),
        [
            "access_token",
            "expires_in",
            "refresh_expires_in",
            "refresh_token",
            "token_type"
        ]
    );
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["expires_in"], 3600);
    let refresh_expires_in = tokens["refresh_expires_in"].as_u64().unwrap();
    assert!((2_591_990..=2_592_000).contains(&refresh_expires_in));
    assert_eq!(
        tokens["access_token"].as_str().unwrap().split('.').count(),
        3
    );
    assert!(tokens["refresh_token"].as_str().unwrap().len() >= 22);
}

fn assert_rfc3339_utc(value: &Value) {
    let text = value
        .as_str()
        .unwrap_or_else(|| panic!("{value} is not a string"));
    assert!(text.ends_with('Z'), "{text} is not UTC with Z");
    chrono::DateTime::parse_from_rfc3339(text).unwrap();
}

#[tokio::test]
async fn signup_login_me_refresh_logout_in_both_encodings() {
    with_app(async |app| {
        for enc in Encoding::BOTH {
            // Signup.
            let signup = app.signup(enc).await;
            let reply = &signup.reply;
            assert_eq!(keys(reply), ["owner", "tenant", "tokens"]);
            assert_eq!(
                keys(&reply["tenant"]),
                [
                    "created_at",
                    "id",
                    "name",
                    "require_mfa",
                    "self_registration",
                    "slug",
                    "status",
                    "updated_at"
                ]
            );
            assert_eq!(reply["tenant"]["self_registration"], true);
            assert_eq!(reply["tenant"]["slug"], signup.slug);
            assert_eq!(reply["tenant"]["name"], "Acme Corporation");
            assert_eq!(reply["tenant"]["status"], "active");
            assert_rfc3339_utc(&reply["tenant"]["created_at"]);
            assert_eq!(keys(&reply["owner"]), USER_FIELDS);
            assert_eq!(reply["owner"]["role"], "owner");
            assert_eq!(reply["owner"]["email"], signup.email);
            assert_eq!(reply["owner"]["display_name"], "Ada Owner");
            assert_eq!(reply["owner"]["email_verified"], false);
            assert_eq!(reply["owner"]["tenant_id"], reply["tenant"]["id"]);
            assert_eq!(reply["owner"]["last_login_at"], Value::Null);
            let id = uuid::Uuid::parse_str(reply["owner"]["id"].as_str().unwrap()).unwrap();
            assert_eq!(id.get_version_num(), 7);
            assert_eq!(id.to_string(), reply["owner"]["id"], "lowercase hyphenated");
            assert_tokens(&reply["tokens"]);

            // Login, with the email in another case.
            let login = app
                .call(
                    enc,
                    "auth.v1.login",
                    None,
                    json!({"tenant": signup.slug, "email": signup.email.to_uppercase(), "password": GOOD_PASSWORD}),
                )
                .await
                .ok();
            assert_eq!(keys(&login), ["tokens", "user"]);
            assert_eq!(login["user"]["id"], signup.user_id);
            assert_rfc3339_utc(&login["user"]["last_login_at"]);
            assert_tokens(&login["tokens"]);
            let access = login["tokens"]["access_token"].as_str().unwrap();
            let refresh = login["tokens"]["refresh_token"].as_str().unwrap();

            // Me, with an empty payload.
            let me = app
                .raw(
                    "auth.v1.me",
                    bearer(enc, access),
                    Vec::new(),
                )
                .await
                .ok();
            assert_eq!(keys(&me), ["user"]);
            assert_eq!(me["user"]["id"], signup.user_id);
            assert_eq!(keys(&me["user"]), USER_FIELDS);

            // Own tenant.
            let tenant = app
                .call(enc, "tenant.v1.get", Some(access), json!({}))
                .await
                .ok();
            assert_eq!(tenant["tenant"]["id"], signup.tenant_id);

            // Refresh: a new pair; the new access token works.
            let refreshed = app
                .call(enc, "auth.v1.refresh", None, json!({"refresh_token": refresh}))
                .await
                .ok();
            assert_eq!(keys(&refreshed), ["tokens"]);
            assert_tokens(&refreshed["tokens"]);
            let new_refresh = refreshed["tokens"]["refresh_token"].as_str().unwrap();
            assert_ne!(new_refresh, refresh);
            let new_access = refreshed["tokens"]["access_token"].as_str().unwrap();
            app.call(enc, "auth.v1.me", Some(new_access), json!({}))
                .await
                .ok();

            // Logout: `{}`; the session's access tokens stop working.
            let out = app
                .call(enc, "auth.v1.logout", None, json!({"refresh_token": new_refresh}))
                .await
                .ok();
            assert_eq!(out, json!({}));
            app.call(enc, "auth.v1.me", Some(new_access), json!({}))
                .await
                .err(401, "unauthenticated");
            // The signup session is another session and still works.
            app.call(enc, "auth.v1.me", Some(&signup.access_token), json!({}))
                .await
                .ok();
        }
    })
    .await;
}

fn bearer(enc: Encoding, token: &str) -> async_nats::HeaderMap {
    let mut headers = async_nats::HeaderMap::new();
    headers.insert("Content-Type", enc.content_type());
    headers.insert("Authorization", format!("Bearer {token}"));
    headers
}

#[tokio::test]
async fn msgpack_replies_are_maps_with_string_ids_and_times() {
    with_app(async |app| {
        let signup = app.signup(Encoding::MsgPack).await;
        let reply = app
            .call(
                Encoding::MsgPack,
                "auth.v1.me",
                Some(&signup.access_token),
                json!({}),
            )
            .await;
        let bytes = &reply.payload[..];
        assert_eq!(bytes[0], 0x81, "a map of one entry");
        assert_eq!(&bytes[1..6], b"\xa4user");
        assert_eq!(bytes[6], 0x8b, "user is a map of eleven entries");
        // "id" then a 36-character str8, the canonical UUID text.
        let id_key = bytes.windows(3).position(|w| w == b"\xa2id").unwrap();
        assert_eq!(&bytes[id_key + 3..id_key + 5], b"\xd9\x24");
        let id = std::str::from_utf8(&bytes[id_key + 5..id_key + 5 + 36]).unwrap();
        assert_eq!(id, signup.user_id);
        // Timestamps are strings too, never extension types.
        assert!(!bytes.iter().any(|b| matches!(b, 0xd4..=0xd8 | 0xc7..=0xc9)));
    })
    .await;
}

#[tokio::test]
async fn a_correlation_id_is_echoed_and_a_bad_one_replaced() {
    with_app(async |app| {
        let mut headers = async_nats::HeaderMap::new();
        headers.insert("Content-Type", "application/json");
        headers.insert("X-Correlation-Id", "gw-req:42.a_b-c");
        let reply = app.raw("tenant.v1.create", headers, "{}").await;
        assert_eq!(reply.header("X-Correlation-Id"), Some("gw-req:42.a_b-c"));
        assert_eq!(reply.body()["correlation_id"], "gw-req:42.a_b-c");

        let mut headers = async_nats::HeaderMap::new();
        headers.insert("X-Correlation-Id", "has spaces and / slashes");
        let reply = app.raw("tenant.v1.create", headers, Vec::new()).await;
        let generated = reply.header("X-Correlation-Id").unwrap();
        let uuid = uuid::Uuid::parse_str(generated).unwrap();
        assert_eq!(uuid.get_version_num(), 7);
    })
    .await;
}
