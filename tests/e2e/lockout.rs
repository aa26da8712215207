//! Lockout (contract §5, auth): five consecutive failed logins lock an
//! account for 30 minutes; while locked even the right password fails the
//! same way; parallel guesses cannot outrun the limit.

use olympus_tests::ops::Call;
use olympus_tests::{with_app, Encoding, Signup, TestApp};
use std::time::Duration;

/// `auth.login` of `signup`'s owner with `password`, in MessagePack.
fn login<'a>(app: &'a TestApp, signup: &Signup, password: &str) -> Call<'a> {
    app.login(&signup.slug, &signup.email, password)
        .encoded(Encoding::MsgPack)
}

fn reasons(events: &[olympus_tests::events::Published]) -> Vec<&str> {
    events
        .iter()
        .map(|e| e.body["data"]["reason"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn five_failures_lock_the_account_until_the_lock_ends() {
    with_app(async |app| {
        let signup = app.signup(Encoding::Json).await;
        for _ in 0..4 {
            login(app, &signup, "wrong-password-1")
                .await
                .err(401, "invalid_credentials");
        }
        // A success sets the count back: four more failures do not lock.
        login(app, &signup, &signup.password).await.ok();
        for _ in 0..4 {
            login(app, &signup, "wrong-password-2")
                .await
                .err(401, "invalid_credentials");
        }
        login(app, &signup, &signup.password).await.ok();

        for _ in 0..5 {
            login(app, &signup, "wrong-password-3")
                .await
                .err(401, "invalid_credentials");
        }
        let locked = app
            .events(Some(&signup.tenant_id), Some("user.locked"), 1)
            .await;
        assert_eq!(locked.len(), 1);
        assert_eq!(locked[0].body["data"]["user_id"], signup.user_id.as_str());
        assert_eq!(locked[0].body["data"]["failed_logins"], 5);
        let until: chrono::DateTime<chrono::Utc> = locked[0].body["data"]["locked_until"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        let minutes = (until - olympus_runtime::clock::Clock::now(&*app.clock)).num_minutes();
        assert!((29..=30).contains(&minutes), "locked for {minutes} min");

        // Even the right password, with the same reply as any failure.
        let refused = login(app, &signup, &signup.password).await;
        refused.err(401, "invalid_credentials");
        let failed = app
            .events(Some(&signup.tenant_id), Some("user.login_failed"), 14)
            .await;
        assert_eq!(reasons(&failed).last(), Some(&"locked"));

        app.clock.advance(Duration::from_secs(29 * 60));
        login(app, &signup, &signup.password)
            .await
            .err(401, "invalid_credentials");
        app.clock.advance(Duration::from_secs(61));
        let back = login(app, &signup, &signup.password).await.ok();
        assert_eq!(back["user"]["id"], signup.user_id.as_str());
    })
    .await;
}

#[tokio::test]
async fn parallel_wrong_guesses_cannot_outrun_the_limit() {
    with_app(async |app| {
        let signup = app.signup(Encoding::Json).await;
        let guesses = (0..10).map(|i| login(app, &signup, &format!("guess-number-{i}")).send());
        for reply in futures::future::join_all(guesses).await {
            reply.err(401, "invalid_credentials");
        }
        let failed = app
            .events(Some(&signup.tenant_id), Some("user.login_failed"), 10)
            .await;
        let mut counted = reasons(&failed);
        counted.sort_unstable();
        assert_eq!(
            counted,
            [vec!["locked"; 5], vec!["wrong_password"; 5]].concat(),
            "exactly five passwords were compared"
        );
        let locked = app
            .events(Some(&signup.tenant_id), Some("user.locked"), 1)
            .await;
        assert_eq!(locked.len(), 1);
        login(app, &signup, &signup.password)
            .await
            .err(401, "invalid_credentials");
    })
    .await;
}

#[tokio::test]
async fn the_users_own_parallel_logins_wait_for_each_other_and_all_succeed() {
    with_app(async |app| {
        let signup = app.signup(Encoding::Json).await;
        let logins = (0..8).map(|_| login(app, &signup, &signup.password).send());
        for reply in futures::future::join_all(logins).await {
            reply.ok();
        }
    })
    .await;
}
