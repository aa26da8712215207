//! Password reset and mail limits (contract §5, auth).

use olympus_tests::{with_app, Encoding, TestApp};
use serde_json::json;
use std::time::Duration;

async fn request_reset(app: &TestApp, slug: &str, email: &str) -> olympus_tests::Reply {
    let mut headers = async_nats::HeaderMap::new();
    headers.insert("X-Correlation-Id", "reset-request");
    app.raw(
        "auth.v1.request_password_reset",
        headers,
        Encoding::MsgPack.encode(&json!({"tenant": slug, "email": email})),
    )
    .await
}

#[tokio::test]
async fn a_reset_by_mail_sets_the_password_lifts_the_lock_and_ends_every_session() {
    with_app(async |app| {
        let signup = app.signup(Encoding::Json).await;
        let login = |password: &str| app.login(&signup.slug, &signup.email, password);
        for _ in 0..5 {
            login("wrong-password-x")
                .await
                .err(401, "invalid_credentials");
        }
        app.events(Some(&signup.tenant_id), Some("user.locked"), 1)
            .await;

        let known = request_reset(app, &signup.slug, &signup.email).await;
        known.ok();
        for (slug, email) in [
            (signup.slug.as_str(), "nobody@example.com"),
            ("no-such-tenant", signup.email.as_str()),
            (signup.slug.as_str(), "not an email"),
        ] {
            let unknown = request_reset(app, slug, email).await;
            assert_eq!(unknown.payload, known.payload, "the same bytes either way");
        }
        let mail = app
            .mail(Some(&signup.tenant_id), Some("password_reset"), 1)
            .await;
        assert_eq!(mail.len(), 1, "one mail, for the account that exists");
        assert_eq!(mail[0].body["to"], signup.email.as_str());
        let expires: chrono::DateTime<chrono::Utc> = mail[0].body["expires_at"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        let minutes = (expires - chrono::Utc::now()).num_minutes();
        assert!((58..=60).contains(&minutes), "{minutes}");
        let token = mail[0].body["token"].as_str().unwrap().to_owned();

        let reset = async |password: &str| app.reset_password(&token, password).await;
        let weak = reset("password1").await.err(422, "validation_failed");
        assert!(weak["details"]["fields"]["new_password"].is_array());
        let new_password = "harbor-violet-tundra-echo";
        reset(new_password).await.ok();
        reset(new_password).await.err(401, "invalid_token");

        app.me(&signup.access_token)
            .await
            .err(401, "unauthenticated");
        login(&signup.password)
            .await
            .err(401, "invalid_credentials");
        login(new_password).await.ok();
        let changed = app
            .events(Some(&signup.tenant_id), Some("user.password_changed"), 1)
            .await;
        assert_eq!(changed[0].body["data"]["how"], "reset");
        assert_eq!(changed[0].body["data"]["sessions_revoked"], 1);

        // A reset token lives one hour.
        request_reset(app, &signup.slug, &signup.email).await.ok();
        let later = app
            .mail(Some(&signup.tenant_id), Some("password_reset"), 1)
            .await;
        let token = later[0].body["token"].as_str().unwrap().to_owned();
        app.clock.advance(Duration::from_secs(3601));
        app.reset_password(&token, "another-long-passphrase-42")
            .await
            .err(401, "invalid_token");
    })
    .await;
}

#[tokio::test]
async fn an_address_gets_at_most_five_mails_an_hour() {
    with_app(async |app| {
        let signup = app.signup(Encoding::Json).await;
        // The signup's verification mail is the first of five.
        for _ in 0..6 {
            request_reset(app, &signup.slug, &signup.email).await.ok();
        }
        let resets = app
            .mail(Some(&signup.tenant_id), Some("password_reset"), 4)
            .await;
        assert_eq!(
            resets.len(),
            4,
            "four resets after the verification mail, then none"
        );

        let limited = app
            .resend_verification(&signup.access_token)
            .await
            .err(429, "rate_limited");
        let retry = limited["details"]["retry_after_secs"].as_u64().unwrap();
        assert!((3500..=3600).contains(&retry), "{retry}");

        app.clock.advance(Duration::from_secs(3601));
        app.resend_verification(&signup.access_token).await.ok();
        let verifications = app
            .mail(Some(&signup.tenant_id), Some("verify_email"), 2)
            .await;
        assert_eq!(verifications.len(), 2);
        // The new token verifies the address; then nothing more is sent.
        let token = verifications[1].body["token"].as_str().unwrap();
        app.verify_email(token).await.ok();
        app.resend_verification(&signup.access_token).await.ok();
    })
    .await;
}
