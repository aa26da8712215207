//! Failed logins per client address (contract §5, auth): beyond 30 a
//! minute from one `X-Client-Ip`, logins from it get `rate_limited`,
//! whether or not the account exists.

use olympus_tests::{with_app, Encoding};
use std::time::Duration;

#[tokio::test]
async fn thirty_failures_a_minute_from_one_address_rate_limit_it() {
    with_app(async |app| {
        let signup = app.signup(Encoding::Json).await;
        let right = || app.login(&signup.slug, &signup.email, &signup.password);
        let unknown = || app.login(&signup.slug, "ghost@example.com", "whatever-1");
        let no_tenant = || app.login("no-such-tenant", &signup.email, "x");
        for i in 0..30 {
            let login = if i % 2 == 0 { unknown() } else { no_tenant() };
            login
                .header("X-Client-Ip", "203.0.113.50")
                .await
                .err(401, "invalid_credentials");
        }
        // The failures are counted just after their replies.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
        let limited = loop {
            let reply = right().header("X-Client-Ip", "203.0.113.50").await;
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
        unknown()
            .header("X-Client-Ip", "203.0.113.50")
            .await
            .err(429, "rate_limited");
        // Another address is not affected, nor is a login without one.
        right().header("X-Client-Ip", "198.51.100.7").await.ok();
        right().await.ok();
        // A minute later the address may try again.
        app.clock.advance(Duration::from_secs(61));
        right().header("X-Client-Ip", "203.0.113.50").await.ok();
    })
    .await;
}
