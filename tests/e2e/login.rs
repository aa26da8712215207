//! Logins that must fail.

use olympus_tests::{with_app, Encoding};
use serde_json::json;

#[tokio::test]
async fn a_suspended_tenants_owner_cannot_log_in_and_their_tokens_stop_working() {
    with_app(async |app| {
        let signup = app.signup(Encoding::Json).await;
        sqlx::query("UPDATE tenants SET status = 'suspended' WHERE id = $1::uuid")
            .bind(&signup.tenant_id)
            .execute(app.db.pool())
            .await
            .unwrap();
        app.login(&signup.slug, &signup.email, &signup.password)
            .await
            .err(401, "invalid_credentials");
        // Every process learns of the suspension within a second.
        app.me(&signup.access_token)
            .refused_within(std::time::Duration::from_secs(1))
            .await;
        app.refresh(&signup.refresh_token)
            .await
            .err(401, "invalid_token");
    })
    .await;
}

#[tokio::test]
async fn a_nul_in_any_login_field_is_the_same_failed_login() {
    with_app(async |app| {
        let signup = app.signup(Encoding::Json).await;
        let login = async |body: serde_json::Value| {
            let mut headers = async_nats::HeaderMap::new();
            headers.insert("X-Correlation-Id", "nul-test");
            let reply = app
                .raw("auth.v1.login", headers, Encoding::MsgPack.encode(&body))
                .await;
            reply.err(401, "invalid_credentials");
            reply.payload
        };
        let expected =
            login(json!({"tenant": "no-such-tenant", "email": signup.email, "password": "x"}))
                .await;
        for body in [
            json!({"tenant": "a\u{0}b", "email": signup.email, "password": "x"}),
            json!({"tenant": signup.slug, "email": "a\u{0}@b.example", "password": "x"}),
            json!({"tenant": signup.slug, "email": signup.email, "password": "x\u{0}"}),
        ] {
            assert_eq!(login(body).await, expected, "byte-identical");
        }
    })
    .await;
}
