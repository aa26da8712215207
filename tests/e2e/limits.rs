//! Failed logins per client address (contract §5, auth): beyond 30 a
//! minute from one `X-Client-Ip`, logins from it get `rate_limited`,
//! whether or not the account exists.

use olympus_tests::{with_app, Encoding, Reply, TestApp};
use serde_json::{json, Value};
use std::time::Duration;

async fn login_from(app: &TestApp, ip: &str, body: &Value) -> Reply {
    let mut headers = async_nats::HeaderMap::new();
    headers.insert("Content-Type", "application/json");
    headers.insert("X-Client-Ip", ip);
    app.raw("auth.v1.login", headers, body.to_string()).await
}

#[tokio::test]
async fn thirty_failures_a_minute_from_one_address_rate_limit_it() {
    with_app(async |app| {
        let signup = app.signup(Encoding::Json).await;
        let right =
            json!({"tenant": signup.slug, "email": signup.email, "password": signup.password});
        let unknown =
            json!({"tenant": signup.slug, "email": "ghost@example.com", "password": "whatever-1"});
        let no_tenant = json!({"tenant": "no-such-tenant", "email": signup.email, "password": "x"});
        for i in 0..30 {
            let body = if i % 2 == 0 { &unknown } else { &no_tenant };
            login_from(app, "203.0.113.50", body)
                .await
                .err(401, "invalid_credentials");
        }
        // The failures are counted just after their replies.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
        let limited = loop {
            let reply = login_from(app, "203.0.113.50", &right).await;
            if reply.status() == 429 || tokio::time::Instant::now() > deadline {
                break reply;
            }
            reply.ok();
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        let body = limited.err(429, "rate_limited");
        let retry = body["details"]["retry_after_secs"].as_i64().unwrap();
        assert!((1..=60).contains(&retry), "{retry}");
        // The same for an account that does not exist.
        login_from(app, "203.0.113.50", &unknown)
            .await
            .err(429, "rate_limited");
        // Another address is not affected, nor is a login without one.
        login_from(app, "198.51.100.7", &right).await.ok();
        app.call(Encoding::Json, "auth.v1.login", None, right.clone())
            .await
            .ok();
        // A minute later the address may try again.
        app.clock.advance(Duration::from_secs(61));
        login_from(app, "203.0.113.50", &right).await.ok();
    })
    .await;
}
