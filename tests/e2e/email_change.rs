//! Email change (contract §5, revision 3): the token goes only to the new
//! address; confirming moves the account, verifies the address, ends every
//! other session and tells the old address without a token.

use olympus_tests::{with_app, Encoding};
use serde_json::{json, Value};
use std::time::Duration;

#[tokio::test]
async fn a_change_is_mailed_to_the_new_address_and_confirming_moves_the_account() {
    with_app(async |app| {
        let signup = app.signup(Encoding::Json).await;
        let token = signup.access_token.as_str();
        // Another device of the same user, which the change ends.
        let other = app
            .login(&signup.slug, &signup.email, &signup.password)
            .await
            .ok();
        let other = other["tokens"]["access_token"].as_str().unwrap().to_owned();

        let new = format!(
            "New.Address@{}",
            signup.slug.to_uppercase() + ".example.com"
        );
        let normal = new.to_lowercase();
        app.change_email(token, &new, "not-the-password")
            .await
            .err(401, "invalid_credentials");
        let (failed, _): (i32, Option<chrono::DateTime<chrono::Utc>>) =
            sqlx::query_as("SELECT failed_logins, locked_until FROM users WHERE id = $1::uuid")
                .bind(&signup.user_id)
                .fetch_one(app.db.pool())
                .await
                .unwrap();
        assert_eq!(failed, 1, "a wrong password counts toward the lockout");
        let bad = app
            .change_email(token, "not-an-address", &signup.password)
            .await
            .err(422, "validation_failed");
        assert!(bad["details"]["fields"]["new_email"].is_array(), "{bad}");
        app.change_email(token, &signup.email, &signup.password)
            .await
            .err(422, "validation_failed");
        app.change_email(token, &new, &signup.password).await.ok();

        // The token went to the new address only, in its normal form.
        let mail = app
            .mail(Some(&signup.tenant_id), Some("email_change"), 1)
            .await;
        assert_eq!(mail.len(), 1);
        assert_eq!(mail[0].body["to"], normal.as_str());
        assert_eq!(mail[0].body["user_id"], signup.user_id.as_str());
        let mailed = mail[0].body["token"].as_str().unwrap().to_owned();
        assert!(mail[0].body["expires_at"].is_string());
        // Nothing changed yet.
        assert_eq!(
            app.me(token).await.ok()["user"]["email"],
            signup.email.as_str()
        );

        app.confirm_email_change("not-a-token")
            .await
            .err(401, "invalid_token");
        let moved = app.confirm_email_change(&mailed).await.ok();
        assert_eq!(moved["user"]["email"], normal.as_str());
        assert_eq!(moved["user"]["email_verified"], true);
        app.confirm_email_change(&mailed)
            .await
            .err(401, "invalid_token");

        // The asking session stays, the other ends within a second.
        app.me(token).await.ok();
        app.assert_refused_within_a_second(&other).await;
        // The new address logs in; the old one is no one's.
        app.login(&signup.slug, &normal, &signup.password)
            .await
            .ok();
        app.login(&signup.slug, &signup.email, &signup.password)
            .await
            .err(401, "invalid_credentials");

        // The old address is told, without a token.
        let notice = app
            .mail(Some(&signup.tenant_id), Some("email_changed"), 1)
            .await;
        assert_eq!(notice[0].body["to"], signup.email.as_str());
        let keys: Vec<&str> = notice[0]
            .body
            .as_object()
            .unwrap()
            .keys()
            .map(|k| k.as_str())
            .collect();
        assert!(
            !keys.contains(&"token") && !keys.contains(&"expires_at"),
            "{keys:?}"
        );

        let changed = app
            .events(Some(&signup.tenant_id), Some("user.email_changed"), 1)
            .await;
        assert_eq!(
            changed[0].body["data"],
            json!({
                "user_id": signup.user_id,
                "email": normal,
                "previous_email": signup.email,
                "sessions_revoked": 1
            })
        );
        assert_eq!(changed[0].body["actor_id"], signup.user_id.as_str());
        assert!(!String::from_utf8_lossy(&changed[0].payload).contains(&mailed));
        let revoked = app
            .events(Some(&signup.tenant_id), Some("session.revoked"), 1)
            .await;
        assert_eq!(revoked[0].body["data"]["reason"], "email_changed");
    })
    .await;
}

#[tokio::test]
async fn an_address_taken_meanwhile_is_a_conflict_and_the_token_stays_usable() {
    with_app(async |app| {
        let signup = app.signup(Encoding::Json).await;
        let token = signup.access_token.as_str();
        let wanted = format!("wanted@{}.example.com", signup.slug);
        app.change_email(token, &wanted, &signup.password)
            .await
            .ok();
        let mail = app
            .mail(Some(&signup.tenant_id), Some("email_change"), 1)
            .await;
        let mailed = mail[0].body["token"].as_str().unwrap().to_owned();
        // Someone registers the address before the confirmation.
        let taker = app
            .register(&signup.slug, &wanted, &signup.password)
            .await
            .ok();
        let conflict = app.confirm_email_change(&mailed).await.err(409, "conflict");
        assert_eq!(conflict["details"]["field"], "email");
        assert_eq!(
            app.me(token).await.ok()["user"]["email"],
            signup.email.as_str()
        );
        // Once the address is free again, the same token works.
        let taker_token = taker["tokens"]["access_token"].as_str().unwrap();
        let elsewhere = format!("elsewhere@{}.example.com", signup.slug);
        app.change_email(taker_token, &elsewhere, &signup.password)
            .await
            .ok();
        let mail: Vec<Value> = app
            .mail(Some(&signup.tenant_id), Some("email_change"), 1)
            .await
            .into_iter()
            .map(|m| m.body)
            .collect();
        let theirs = mail
            .iter()
            .find(|m| m["to"] == elsewhere.as_str())
            .expect("the taker's mail");
        app.confirm_email_change(theirs["token"].as_str().unwrap())
            .await
            .ok();
        let moved = app.confirm_email_change(&mailed).await.ok();
        assert_eq!(moved["user"]["email"], wanted.as_str());
        // A token expires after 24 hours.
        app.change_email(
            token,
            &format!("late@{}.example.com", signup.slug),
            &signup.password,
        )
        .await
        .ok();
        let late = app
            .mail(Some(&signup.tenant_id), Some("email_change"), 1)
            .await;
        app.clock.advance(Duration::from_secs(24 * 3600 + 1));
        app.confirm_email_change(late[0].body["token"].as_str().unwrap())
            .await
            .err(401, "invalid_token");
    })
    .await;
}

#[tokio::test]
async fn a_change_dies_with_the_session_that_asked_and_retires_the_old_addresss_tokens() {
    with_app(async |app| {
        let signup = app.signup(Encoding::Json).await;
        // Asked for from a second session, which then logs out.
        let other = app
            .login(&signup.slug, &signup.email, &signup.password)
            .await
            .ok();
        let other_token = other["tokens"]["access_token"].as_str().unwrap();
        let first = format!("first@{}.example.com", signup.slug);
        app.change_email(other_token, &first, &signup.password)
            .await
            .ok();
        let mail = app
            .mail(Some(&signup.tenant_id), Some("email_change"), 1)
            .await;
        let dead = mail[0].body["token"].as_str().unwrap().to_owned();
        app.logout(other["tokens"]["refresh_token"].as_str().unwrap())
            .await
            .ok();
        app.confirm_email_change(&dead)
            .await
            .err(401, "invalid_token");

        // A reset mailed to the old address stops working once the account
        // has moved.
        app.request_password_reset(&signup.slug, &signup.email)
            .await
            .ok();
        let reset = app
            .mail(Some(&signup.tenant_id), Some("password_reset"), 1)
            .await;
        let reset = reset[0].body["token"].as_str().unwrap().to_owned();
        let second = format!("second@{}.example.com", signup.slug);
        app.change_email(&signup.access_token, &second, &signup.password)
            .await
            .ok();
        let mail = app
            .mail(Some(&signup.tenant_id), Some("email_change"), 1)
            .await;
        app.confirm_email_change(mail[0].body["token"].as_str().unwrap())
            .await
            .ok();
        app.reset_password(&reset, "harbor-ginger-tulip-comet")
            .await
            .err(401, "invalid_token");
    })
    .await;
}
