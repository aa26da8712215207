//! Hostile members (contract §5, §6 revision 3): what one account of a
//! tenant can still try against another of the same tenant, from a stored
//! reply to a token that outlives a password, and the limits that must
//! hold under bursts and across tenants.

use olympus_tests::client::GOOD_PASSWORD;
use olympus_tests::{with_app, Encoding, Member, Signup, TestApp};
use serde_json::{json, Value};

fn address(name: &str) -> Value {
    json!({"name": name, "line1": "1 Secret Lane", "city": "Berlin",
           "postal_code": "10115", "country": "DE"})
}

#[tokio::test]
async fn a_stored_reply_goes_back_only_to_the_member_who_caused_it() {
    with_app(async |app| {
        let owner = app.signup(Encoding::Json).await;
        let ada = app.join(&owner, "ada@example.com", "member").await;
        let bob = app.join(&owner, "bob@example.com", "member").await;
        let p = app.new_product(&owner, "SHARED-KEY", 1250, 100).await;
        let order = |token: &str| {
            app.create_order(token, &[(&p["id"], 1)])
                .with("shipping_address", address("Ada Private"))
                .with("contact_phone", "+4930123456")
                .key("checkout-7")
        };

        // Ada's order, with a key Bob learns (a shared device, a log line).
        let adas = order(&ada.access_token).await.ok();
        assert_eq!(adas["order"]["customer_id"], ada.user_id.as_str());
        // Bob, same key and body: his own order, not Ada's stored reply.
        let bobs = order(&bob.access_token).await.ok();
        assert_eq!(bobs["order"]["customer_id"], bob.user_id.as_str());
        assert_ne!(bobs["order"]["id"], adas["order"]["id"]);
        // Ada's retry is still her stored reply.
        let retry = order(&ada.access_token).await.ok();
        assert_eq!(retry, adas);

        // Ada cancels with a key; Bob replays it: he may not see her order,
        // and gets `not_found`, never her address and phone.
        let cancel = |token: &str| {
            app.cancel_order(token, &adas["order"]["id"])
                .key("cancel-1")
        };
        let cancelled = cancel(&ada.access_token).await.ok();
        assert_eq!(cancelled["order"]["contact_phone"], "+4930123456");
        let replayed = cancel(&bob.access_token).await;
        let body = replayed.err(404, "not_found");
        assert!(!body.to_string().contains("Ada Private"), "{body}");
        assert!(!body.to_string().contains("4930123456"), "{body}");
    })
    .await;
}

#[tokio::test]
async fn an_admins_stored_refusal_is_not_the_owners_and_the_owners_success_not_the_admins() {
    with_app(async |app| {
        let owner = app.signup(Encoding::Json).await;
        let admin: Member = app.join(&owner, "admin@example.com", "admin").await;
        let invite =
            |token: &str, key: &str, email: &str| app.invite_member(token, email, "admin").key(key);
        // Only owners invite admins: the admin's refusal is stored...
        invite(&admin.access_token, "k-1", "new-admin@example.com")
            .await
            .err(403, "forbidden");
        // ...for the admin alone: the owner's same request runs.
        let owners = invite(&owner.access_token, "k-1", "new-admin@example.com")
            .await
            .ok();
        assert_eq!(owners["invitation"]["role"], "admin");
        // And the owner's success is not the admin's.
        invite(&owner.access_token, "k-2", "second@example.com")
            .await
            .ok();
        invite(&admin.access_token, "k-2", "second@example.com")
            .await
            .err(403, "forbidden");
        let invitations: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM invitations WHERE tenant_id = $1::uuid AND role = 'admin'",
        )
        .bind(&owner.tenant_id)
        .fetch_one(app.db.pool())
        .await
        .unwrap();
        assert_eq!(invitations, 2, "the owner's two, none of the admin's");
    })
    .await;
}

#[tokio::test]
async fn a_key_stored_before_keys_had_callers_answers_no_one() {
    with_app(async |app| {
        let owner = app.signup(Encoding::Json).await;
        let invite = |token: &str| {
            app.invite_member(token, "legacy@example.com", "member")
                .key("legacy")
        };
        let stored = invite(&owner.access_token).await.ok();
        // As a row written before revision 3 looks: no caller.
        sqlx::query("UPDATE idempotency_keys SET caller_id = NULL WHERE key = 'legacy'")
            .execute(app.db.pool())
            .await
            .unwrap();
        let refused = invite(&owner.access_token)
            .await
            .err(422, "idempotency_key_reused");
        assert!(!refused
            .to_string()
            .contains(stored["invitation"]["id"].as_str().unwrap()));
        let invitations: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM invitations WHERE email = 'legacy@example.com'",
        )
        .fetch_one(app.db.pool())
        .await
        .unwrap();
        assert_eq!(invitations, 1, "nothing ran again");
        // Once it expires, the key is free.
        app.clock
            .advance(std::time::Duration::from_secs(24 * 3600 + 1));
        let token = app
            .login(&owner.slug, &owner.email, GOOD_PASSWORD)
            .await
            .ok()["tokens"]["access_token"]
            .as_str()
            .unwrap()
            .to_owned();
        invite(&token).await.ok();
    })
    .await;
}

/// The reset tokens mailed to `signup`'s owner so far, oldest first
/// (waiting for `count`).
async fn reset_tokens(app: &TestApp, signup: &Signup, count: usize) -> Vec<String> {
    app.mail(Some(&signup.tenant_id), Some("password_reset"), count)
        .await
        .iter()
        .map(|m| m.body["token"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn setting_a_password_by_any_path_retires_every_reset_token_mailed_before() {
    with_app(async |app| {
        let signup = app.signup(Encoding::Json).await;
        // Two mails; the newer is used: the older no longer works.
        let request_reset = async || {
            app.request_password_reset(&signup.slug, &signup.email)
                .await
                .ok();
        };
        request_reset().await;
        request_reset().await;
        let tokens = reset_tokens(app, &signup, 2).await;
        assert_eq!(tokens.len(), 2);
        app.reset_password(&tokens[1], "quartz-lantern-meadow-violin")
            .await
            .ok();
        app.reset_password(&tokens[0], "attacker-chosen-pass-phrase")
            .await
            .err(401, "invalid_token");
        app.login(&signup.slug, &signup.email, "quartz-lantern-meadow-violin")
            .await
            .ok();

        // A mail, then the password changed in the app: the mail is dead.
        request_reset().await;
        let tokens = reset_tokens(app, &signup, 1).await;
        let session = app
            .login(&signup.slug, &signup.email, "quartz-lantern-meadow-violin")
            .await
            .ok();
        app.change_password(
            session["tokens"]["access_token"].as_str().unwrap(),
            "quartz-lantern-meadow-violin",
            "harbor-ginger-tulip-comet",
        )
        .await
        .ok();
        app.reset_password(&tokens[0], "attacker-chosen-pass-phrase")
            .await
            .err(401, "invalid_token");
        app.login(&signup.slug, &signup.email, "harbor-ginger-tulip-comet")
            .await
            .ok();
    })
    .await;
}

#[tokio::test]
async fn introspection_answers_what_the_workers_enforce_not_what_the_token_says() {
    with_app(async |app| {
        let owner = app.signup(Encoding::Json).await;
        let admin = app.join(&owner, "demoted@example.com", "admin").await;
        let introspect = async || {
            app.introspect(&admin.access_token)
                .encoded(Encoding::MsgPack)
                .await
                .ok()
        };
        let seen = introspect().await;
        assert_eq!(
            (seen["active"].clone(), seen["role"].clone()),
            (json!(true), json!("admin"))
        );
        // Demoted: the token still says admin; the workers refuse admin work.
        app.set_member_role(&owner.access_token, &admin.user_id, "member")
            .await
            .ok();
        app.list_members(&admin.access_token)
            .await
            .err(403, "forbidden");
        let seen = introspect().await;
        assert_eq!(seen["active"], true);
        assert_eq!(seen["role"], "member", "the current role: {seen}");

        // Removed: every worker refuses the token, and so does introspection.
        app.remove_member(&owner.access_token, &admin.user_id)
            .await
            .ok();
        app.me(&admin.access_token)
            .refused_within(std::time::Duration::from_secs(2))
            .await;
        assert_eq!(introspect().await, json!({"active": false}));
    })
    .await;
}

#[tokio::test]
async fn wrong_current_passwords_count_toward_the_lockout_as_failed_logins_do() {
    with_app(async |app| {
        let signup = app.signup(Encoding::Json).await;
        let change = |current: &str| {
            app.change_password(&signup.access_token, current, "harbor-ginger-tulip-comet")
        };
        // A stolen access token guessing in parallel: at most the lockout's
        // five passwords are compared, then the account is locked.
        let guesses =
            futures::future::join_all((0..12).map(|i| change(&format!("guess-number-{i}")).send()))
                .await;
        for guess in &guesses {
            guess.err(401, "invalid_credentials");
        }
        let locked = app
            .events(Some(&signup.tenant_id), Some("user.locked"), 1)
            .await;
        assert_eq!(locked[0].body["data"]["user_id"], signup.user_id.as_str());
        assert_eq!(locked[0].body["data"]["failed_logins"], 5);
        // Locked: even the right password, by either path.
        change(GOOD_PASSWORD).await.err(401, "invalid_credentials");
        app.login(&signup.slug, &signup.email, GOOD_PASSWORD)
            .await
            .err(401, "invalid_credentials");
        let (failed, locked_until): (i32, Option<chrono::DateTime<chrono::Utc>>) =
            sqlx::query_as("SELECT failed_logins, locked_until FROM users WHERE id = $1::uuid")
                .bind(&signup.user_id)
                .fetch_one(app.db.pool())
                .await
                .unwrap();
        assert_eq!(failed, 5, "no more tries were counted than the limit");
        assert!(locked_until.is_some());

        // Once the lock ends, the right password works and clears the count.
        app.clock.advance(std::time::Duration::from_secs(1801));
        let session = app
            .login(&signup.slug, &signup.email, GOOD_PASSWORD)
            .await
            .ok();
        let token = session["tokens"]["access_token"].as_str().unwrap();
        app.change_password(token, "wrong-once-only", "harbor-ginger-tulip-comet")
            .await
            .err(401, "invalid_credentials");
        app.change_password(token, GOOD_PASSWORD, "harbor-ginger-tulip-comet")
            .await
            .ok();
        let failed: i32 = sqlx::query_scalar("SELECT failed_logins FROM users WHERE id = $1::uuid")
            .bind(&signup.user_id)
            .fetch_one(app.db.pool())
            .await
            .unwrap();
        assert_eq!(failed, 0);
    })
    .await;
}

#[tokio::test]
async fn sixty_parallel_failures_from_one_address_get_thirty_compared_and_thirty_refused() {
    with_app(async |app| {
        let signup = app.signup(Encoding::Json).await;
        let replies = futures::future::join_all((0..60).map(|i| {
            // Different accounts, so the accounts' lockout is not what stops them.
            let email = format!("ghost-{i}@example.com");
            app.login(&signup.slug, &email, "not-the-password")
                .header("X-Client-Ip", "203.0.113.77")
                .send()
        }))
        .await;
        let mut compared = 0;
        let mut limited = 0;
        for reply in &replies {
            match reply.status() {
                401 => {
                    reply.err(401, "invalid_credentials");
                    compared += 1;
                }
                _ => {
                    let body = reply.err(429, "rate_limited");
                    assert!(body["details"]["retry_after_secs"].as_i64().unwrap() >= 1);
                    limited += 1;
                }
            }
        }
        assert_eq!((compared, limited), (30, 30), "the limit is 30 a minute");
        // The right password from there is refused too; from elsewhere it works.
        let right = |ip: &str| {
            app.login(&signup.slug, &signup.email, GOOD_PASSWORD)
                .header("X-Client-Ip", ip)
        };
        right("203.0.113.77").await.err(429, "rate_limited");
        right("198.51.100.8").await.ok();
        // Successful logins give their try back: 40 in a row from one
        // address never reach the limit.
        for _ in 0..40 {
            right("198.51.100.9").await.ok();
            // Given back just after the reply.
            tokio::time::sleep(std::time::Duration::from_millis(30)).await;
        }
    })
    .await;
}

#[tokio::test]
async fn signing_up_tenants_is_no_way_to_mail_one_address_more_than_the_limit() {
    with_app(async |app| {
        let victim = "victim@example.org";
        let mut tenants = Vec::new();
        for i in 0..8 {
            let slug = format!(
                "bomb-{i}-{}",
                &uuid::Uuid::new_v4().simple().to_string()[..6]
            );
            let reply = app
                .create_tenant(&slug, "Mail Bomb", victim, GOOD_PASSWORD)
                .await
                .ok();
            tenants.push(reply["tenant"]["id"].as_str().unwrap().to_owned());
        }
        let mail = app.mail(None, Some("verify_email"), 5).await;
        // Anything beyond the fifth would have arrived meanwhile.
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        let more = app.mail(None, Some("verify_email"), 0).await;
        let to_victim = mail
            .iter()
            .chain(more.iter())
            .filter(|m| m.body["to"] == victim)
            .count();
        assert_eq!(to_victim, 5, "at most five mails an hour to one address");
    })
    .await;
}

#[tokio::test]
async fn the_request_role_reads_no_other_tenants_failed_logins_or_mail_counts() {
    with_app(async |app| {
        let signup = app.signup(Encoding::Json).await;
        app.login(&signup.slug, &signup.email, "wrong-one-here")
            .header("X-Client-Ip", "192.0.2.44")
            .await
            .err(401, "invalid_credentials");
        // As the request role, in the tenant's own scope.
        let tenant = uuid::Uuid::parse_str(&signup.tenant_id).unwrap();
        for table in ["login_failures", "mail_log"] {
            let mut tx = app.db.tenant(tenant).await.unwrap();
            let denied = sqlx::query(&format!("SELECT * FROM {table}"))
                .execute(&mut *tx)
                .await
                .unwrap_err();
            assert!(
                denied.to_string().contains("permission denied"),
                "{table}: {denied}"
            );
        }
        // The failure is still counted, where the owner can see it.
        let counted: i64 =
            sqlx::query_scalar("SELECT count(*) FROM login_failures WHERE ip = '192.0.2.44'")
                .fetch_one(app.db.pool())
                .await
                .unwrap();
        assert_eq!(counted, 1);
    })
    .await;
}
