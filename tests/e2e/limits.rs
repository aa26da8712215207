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

/// `OLYMPUS_TENANT_RATE` (issue 37): a tenant past its rate gets
/// `rate_limited` with `retry_after_secs`, for every bearer operation
/// together; another tenant keeps its own rate.
#[tokio::test]
async fn a_tenant_past_its_rate_is_limited_and_another_is_not() {
    let options = olympus_tests::Options {
        tenant_rate: (2, 5),
        ..olympus_tests::Options::default()
    };
    olympus_tests::with_app_opts(options, async |app| {
        let busy = app.signup(Encoding::Json).await;
        let quiet = app.signup(Encoding::Json).await;
        // The first request verifies the token (before that, the process
        // cannot tell the tenant); then the bucket of 5 is spent at once.
        app.me(&busy.access_token).await.ok();
        let replies = futures::future::join_all((0..10).map(|i| {
            if i % 2 == 0 {
                app.me(&busy.access_token).send()
            } else {
                app.get_tenant(&busy.access_token).send()
            }
        }))
        .await;
        let limited: Vec<_> = replies
            .iter()
            .filter(|r| r.status() != 200)
            .map(|r| r.err(429, "rate_limited"))
            .collect();
        assert_eq!(limited.len(), 5, "a burst of 5, then limited");
        for err in &limited {
            assert!(
                err["details"]["retry_after_secs"].as_u64().unwrap() >= 1,
                "{err}"
            );
        }
        // The other tenant's bucket is its own.
        app.me(&quiet.access_token).await.ok();
        app.me(&quiet.access_token).await.ok();
        app.me(&quiet.access_token).await.ok();
        // Refilled at 2 a second.
        tokio::time::sleep(Duration::from_millis(1100)).await;
        app.me(&busy.access_token).await.ok();
    })
    .await;
}

/// `olympus admin tenant-rate` (issue 37): a platform operator gives a
/// tenant a rate of its own, or lifts it; every process applies it within
/// a second (read with the revocations), other tenants keep the default.
#[tokio::test]
async fn an_operator_sets_a_tenants_own_rate_and_takes_it_away() {
    with_app(async |app| {
        let busy = app.signup(Encoding::Json).await;
        let quiet = app.signup(Encoding::Json).await;
        let env = [("DATABASE_URL", app.database_url.as_str())];
        let rate = |args: &'static [&'static str], tenant: String| async move {
            let mut all = vec!["admin", "tenant-rate", tenant.as_str()];
            all.extend_from_slice(args);
            let out = crate::cli::olympus(&all, &env).await;
            assert!(out.status.success(), "{}", crate::cli::stderr(&out));
            serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
        };
        // No default limit: a burst of 20 is answered.
        app.me(&busy.access_token).await.ok();
        let burst = |token: &str| futures::future::join_all((0..20).map(|_| app.me(token).send()));
        assert!(burst(&busy.access_token)
            .await
            .iter()
            .all(|r| r.status() == 200));
        let set = rate(&["--rate", "1", "--burst", "2"], busy.slug.clone()).await;
        assert_eq!(set["tenant_id"], busy.tenant_id.as_str());
        assert_eq!(
            (set["request_rate"].as_i64(), set["request_burst"].as_i64()),
            (Some(1), Some(2))
        );
        // Applied within a second or so: then at most its burst of 2 and
        // what refilled pass out of 20.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
        loop {
            let replies = burst(&busy.access_token).await;
            let passed = replies.iter().filter(|r| r.status() == 200).count();
            if passed <= 3 {
                for reply in replies.iter().filter(|r| r.status() != 200) {
                    let err = reply.err(429, "rate_limited");
                    assert!(err["details"]["retry_after_secs"].as_u64().unwrap() >= 1);
                }
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the tenant's rate was not applied"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        // Another tenant keeps the default (none).
        assert!(burst(&quiet.access_token)
            .await
            .iter()
            .all(|r| r.status() == 200));
        // Shown as set, by id too.
        let shown = rate(&[], busy.tenant_id.clone()).await;
        assert_eq!(shown["slug"], busy.slug.as_str());
        assert_eq!(shown["request_rate"], 1);
        // Taken away: the default again, no limit.
        let cleared = rate(&["--default"], busy.slug.clone()).await;
        assert!(cleared["request_rate"].is_null() && cleared["request_burst"].is_null());
        let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
        while !burst(&busy.access_token)
            .await
            .iter()
            .all(|r| r.status() == 200)
        {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the tenant's rate was not lifted"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        // Mistakes are named.
        let out = crate::cli::olympus(&["admin", "tenant-rate", "no-such-slug"], &env).await;
        assert_eq!(out.status.code(), Some(1));
        assert!(
            crate::cli::stderr(&out).contains("no tenant has the slug or id \"no-such-slug\""),
            "{}",
            crate::cli::stderr(&out)
        );
        // A slug that is another tenant's id is refused, not guessed.
        app.create_tenant(
            &busy.tenant_id,
            "Lookalike",
            "look@example.com",
            "correct-horse-battery",
        )
        .await
        .ok();
        let out = crate::cli::olympus(&["admin", "tenant-rate", &busy.tenant_id], &env).await;
        assert_eq!(out.status.code(), Some(1));
        assert!(
            crate::cli::stderr(&out).contains("is one tenant's slug and another tenant's id"),
            "{}",
            crate::cli::stderr(&out)
        );
        let out =
            crate::cli::olympus(&["admin", "tenant-rate", &busy.slug, "--burst", "5"], &env).await;
        assert_eq!(out.status.code(), Some(2), "--burst needs --rate");
        let out = crate::cli::olympus(
            &["admin", "tenant-rate", &busy.slug, "--rate", "2000000"],
            &env,
        )
        .await;
        assert_eq!(out.status.code(), Some(2));
    })
    .await;
}
