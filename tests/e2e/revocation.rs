//! Revocation reaches access tokens everywhere within a second, without a
//! database round trip per request (contract §5, auth).

use olympus_tests::{with_app_opts, Encoding, Options};
use std::time::Duration;

use crate::OLYMPUS;

/// Two processes share the work: one runs the auth worker, the other the
/// tenant worker. A session ended through the first is refused by the
/// second within a second, by the broadcast or, failing it, by its next
/// read of Postgres.
#[tokio::test]
async fn a_revoked_sessions_token_is_refused_by_every_worker_in_every_process() {
    with_app_opts(Options::without_workers(), async |app| {
        let mut auth = app
            .serve_process(OLYMPUS, &["--workers", "auth,tenant"])
            .await;
        let mut tenant = app.serve_process(OLYMPUS, &["--workers", "tenant"]).await;
        let signup = app.signup(Encoding::Json).await;
        let second = app
            .login(&signup.slug, &signup.email, &signup.password)
            .await
            .ok();
        let second_access = second["tokens"]["access_token"]
            .as_str()
            .unwrap()
            .to_owned();
        app.me(&signup.access_token).await.ok();
        app.get_tenant(&signup.access_token).await.ok();

        // logout: the session of the signup's refresh token.
        app.logout(&signup.refresh_token).await.ok();
        let limit = Duration::from_secs(1);
        let auth_took = app.me(&signup.access_token).refused_within(limit).await;
        // tenant.get is answered by both processes in turn: ask often
        // enough that each of them refuses it.
        for _ in 0..6 {
            app.get_tenant(&signup.access_token)
                .refused_within(limit)
                .await;
        }
        // The other session is untouched.
        app.get_tenant(&second_access).await.ok();

        // A platform administrator suspends the tenant through one of the
        // processes; the other learns it by its reads of Postgres.
        let platform = app.platform_admin("root@platform.example.com").await;
        app.suspend_tenant(&platform.access_token, &signup.tenant_id)
            .await
            .ok();
        for _ in 0..6 {
            app.get_tenant(&second_access).refused_within(limit).await;
        }
        app.me(&second_access).refused_within(limit).await;
        // Reactivated: the same token works again, in both processes.
        app.reactivate_tenant(&platform.access_token, &signup.tenant_id)
            .await
            .ok();
        tokio::time::sleep(Duration::from_secs(1)).await;
        for _ in 0..6 {
            app.get_tenant(&second_access).await.ok();
        }
        eprintln!("logout refused by auth.me after {auth_took:?}");
        assert!(auth.terminate().await.success());
        assert!(tenant.terminate().await.success());
    })
    .await;
}
