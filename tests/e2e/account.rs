//! A user's own account (contract §5, auth): registering, sessions,
//! logging out everywhere, changing the password, introspection.

use olympus_tests::client::GOOD_PASSWORD;
use olympus_tests::{with_app, with_app_opts, Encoding, Options, Signup, TestApp};
use serde_json::{json, Value};

fn token(reply: &Value, which: &str) -> String {
    reply["tokens"][which].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn anyone_registers_into_a_tenant_that_allows_it() {
    with_app(async |app| {
        let owner = app.signup(Encoding::Json).await;
        for enc in Encoding::BOTH {
            let email = format!("new-{enc:?}@example.com").to_lowercase();
            let reply = app
                .register(&owner.slug, &email, GOOD_PASSWORD)
                .encoded(enc)
                .await
                .ok();
            assert_eq!(reply["user"]["role"], "member");
            assert_eq!(reply["user"]["email"], email);
            assert_eq!(reply["user"]["email_verified"], false);
            assert_eq!(reply["user"]["tenant_id"], owner.tenant_id.as_str());
            let me = app
                .me(&token(&reply, "access_token"))
                .encoded(enc)
                .await
                .ok();
            assert_eq!(me["user"]["id"], reply["user"]["id"]);
        }
        let registered = app
            .events(Some(&owner.tenant_id), Some("user.registered"), 3)
            .await;
        assert_eq!(registered.len(), 3, "the owner and two members");
        let mail = app
            .mail(Some(&owner.tenant_id), Some("verify_email"), 3)
            .await;
        assert_eq!(mail.len(), 3);

        let taken = app
            .register(&owner.slug, &owner.email, GOOD_PASSWORD)
            .await
            .err(409, "conflict");
        assert_eq!(taken["details"]["field"], "email");
        app.register("no-such-tenant", "x@example.com", GOOD_PASSWORD)
            .await
            .err(404, "not_found");
        let weak = app
            .register(&owner.slug, "weak@example.com", "password")
            .await
            .err(422, "validation_failed");
        assert!(
            weak["details"]["fields"]["password"]
                .as_array()
                .unwrap()
                .len()
                >= 2
        );

        sqlx::query("UPDATE tenants SET self_registration = false WHERE id = $1::uuid")
            .bind(&owner.tenant_id)
            .execute(app.db.pool())
            .await
            .unwrap();
        app.register(&owner.slug, "late@example.com", GOOD_PASSWORD)
            .await
            .err(403, "forbidden");
        sqlx::query(
            "UPDATE tenants SET self_registration = true, status = 'suspended' WHERE id = $1::uuid",
        )
        .bind(&owner.tenant_id)
        .execute(app.db.pool())
        .await
        .unwrap();
        app.register(&owner.slug, "late@example.com", GOOD_PASSWORD)
            .await
            .err(403, "forbidden");
    })
    .await;
}

#[tokio::test]
async fn sessions_are_listed_revoked_one_by_one_or_all_at_once() {
    with_app(async |app| {
        let signup = app.signup(Encoding::Json).await;
        let phone = app
            .login(&signup.slug, &signup.email, &signup.password)
            .header("X-Client-Ip", "198.51.100.4")
            .header("User-Agent", "phone/1.0")
            .await
            .ok();
        let laptop = app
            .login(&signup.slug, &signup.email, &signup.password)
            .await
            .ok();
        let phone_access = token(&phone, "access_token");

        let list = app
            .list_sessions(&phone_access)
            .encoded(Encoding::MsgPack)
            .await
            .ok();
        let items = list["items"].as_array().unwrap();
        assert_eq!(items.len(), 3, "signup, phone, laptop");
        let current: Vec<&Value> = items.iter().filter(|s| s["current"] == true).collect();
        assert_eq!(current.len(), 1);
        assert_eq!(current[0]["ip"], "198.51.100.4");
        assert_eq!(current[0]["user_agent"], "phone/1.0");
        let mut keys: Vec<&str> = current[0]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "created_at",
                "current",
                "id",
                "ip",
                "last_used_at",
                "user_agent"
            ]
        );

        // The phone ends the laptop's session.
        let laptop_session = items
            .iter()
            .find(|s| s["current"] == false && s["ip"].is_null())
            .unwrap()["id"]
            .clone();
        let signup_or_laptop = laptop_session.as_str().unwrap().to_owned();
        app.revoke_session(&phone_access, &signup_or_laptop)
            .await
            .ok();
        app.revoke_session(&phone_access, &signup_or_laptop)
            .await
            .err(404, "not_found");
        let left = app.list_sessions(&phone_access).await.ok();
        assert_eq!(left["items"].as_array().unwrap().len(), 2);

        // Another user's session is not the caller's to end.
        let other = app.signup(Encoding::Json).await;
        let other_list = app.list_sessions(&other.access_token).await.ok();
        let other_session = other_list["items"][0]["id"].clone();
        app.revoke_session(&phone_access, &other_session)
            .await
            .err(404, "not_found");

        let all = app.logout_all(&phone_access).await.ok();
        assert_eq!(all, json!({"revoked": 2}));
        for access in [
            &phone_access,
            &signup.access_token,
            &token(&laptop, "access_token"),
        ] {
            app.me(access).await.err(401, "unauthenticated");
        }
        app.refresh(&token(&phone, "refresh_token"))
            .await
            .err(401, "invalid_token");
        let revoked = app
            .events(Some(&signup.tenant_id), Some("session.revoked"), 3)
            .await;
        let mut reasons: Vec<&str> = revoked
            .iter()
            .map(|e| e.body["data"]["reason"].as_str().unwrap())
            .collect();
        reasons.sort_unstable();
        assert_eq!(reasons, ["logout_all", "logout_all", "revoked"]);
    })
    .await;
}

#[tokio::test]
async fn changing_the_password_ends_every_other_session() {
    with_app(async |app| {
        let signup = app.signup(Encoding::Json).await;
        let login = |password: &str| app.login(&signup.slug, &signup.email, password);
        let other_device = login(&signup.password).await.ok();
        let change = async |current: &str, new: &str| {
            app.change_password(&signup.access_token, current, new)
                .await
        };
        let new_password = "quartz-lantern-meadow-voyage";
        change("not-my-password", new_password)
            .await
            .err(401, "invalid_credentials");
        let weak = change(&signup.password, "12345678")
            .await
            .err(422, "validation_failed");
        assert!(
            weak["details"]["fields"]["new_password"].is_array(),
            "{weak}"
        );

        let changed = change(&signup.password, new_password).await.ok();
        let mut keys: Vec<&str> = changed
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        assert_eq!(keys, ["tokens"]);
        app.me(&token(&changed, "access_token")).await.ok();
        for access in [&signup.access_token, &token(&other_device, "access_token")] {
            app.me(access).await.err(401, "unauthenticated");
        }
        login(&signup.password)
            .await
            .err(401, "invalid_credentials");
        login(new_password).await.ok();

        let event = app
            .events(Some(&signup.tenant_id), Some("user.password_changed"), 1)
            .await;
        assert_eq!(
            event[0].body["data"],
            json!({"user_id": signup.user_id, "how": "changed", "sessions_revoked": 2})
        );
        let text = serde_json::to_string(&event[0].body).unwrap();
        assert!(!text.contains(new_password) && !text.contains("argon2"));
    })
    .await;
}

#[tokio::test]
async fn introspection_says_whether_a_token_works_right_now() {
    with_app(async |app| {
        let signup = app.signup(Encoding::Json).await;
        for enc in Encoding::BOTH {
            let active = app.introspect(&signup.access_token).encoded(enc).await.ok();
            assert_eq!(active["active"], true);
            assert_eq!(active["sub"], signup.user_id.as_str());
            assert_eq!(active["tid"], signup.tenant_id.as_str());
            assert_eq!(active["role"], "owner");
            assert!(active["sid"].is_string() && active["exp"].is_i64());
            for junk in ["", "garbage", "a.b.c"] {
                let inactive = app.introspect(junk).encoded(enc).await.ok();
                assert_eq!(inactive, json!({"active": false}));
            }
        }
        app.logout(&signup.refresh_token).await.ok();
        let revoked = app.introspect(&signup.access_token).await.ok();
        assert_eq!(revoked, json!({"active": false}));
    })
    .await;
}

/// Hashes stored with the former defaults (m=19 MiB, t=2; m=12 MiB, t=3)
/// still log their user in, and that login stores a hash at today's
/// default (m=7 MiB, t=5); a wrong password changes nothing.
#[tokio::test]
async fn a_login_stores_a_hash_made_with_former_parameters_anew() {
    with_app(async |app| {
        for former in [(19_456, 2), (12_288, 3)] {
            let signup = app.signup(Encoding::Json).await;
            assert_rehashed_on_login(app, &signup, former, "m=7168,t=5,p=1").await;
        }
    })
    .await;
}

/// With `OLYMPUS_ARGON2_PARAMS=m9216-t4`, a signup's hash is made with
/// m=9 MiB, t=4, and a login with a hash of the default parameters stores
/// it anew with those.
#[tokio::test]
async fn configured_argon2_parameters_make_new_hashes_and_replace_others_at_login() {
    let options = Options {
        argon2_params: olympus_runtime::config::Argon2Params::M9216T4,
        ..Options::default()
    };
    with_app_opts(options, async |app| {
        let signup = app.signup(Encoding::Json).await;
        let made = password_hash(app, &signup).await;
        assert!(made.starts_with("$argon2id$v=19$m=9216,t=4,p=1$"), "{made}");
        app.login(&signup.slug, &signup.email, &signup.password)
            .await
            .ok();
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        let kept = password_hash(app, &signup).await;
        assert_eq!(kept, made, "a hash with the configured parameters is kept");
        assert_rehashed_on_login(app, &signup, (7_168, 5), "m=9216,t=4,p=1").await;
    })
    .await;
}

/// The stored hash of `signup`'s password.
async fn password_hash(app: &TestApp, signup: &Signup) -> String {
    sqlx::query_scalar("SELECT password_hash FROM users WHERE id = $1::uuid")
        .bind(&signup.user_id)
        .fetch_one(app.db.pool())
        .await
        .unwrap()
}

/// Stores `signup`'s password hashed with `former` (memory KiB, passes),
/// then: a wrong password stores nothing; the right one logs in and stores
/// a hash with `expected` (`m=...,t=...,p=...`), which logs in in turn.
async fn assert_rehashed_on_login(
    app: &TestApp,
    signup: &Signup,
    former: (u32, u32),
    expected: &str,
) {
    use argon2::password_hash::{PasswordHasher, SaltString};
    let former = argon2::Argon2::new(
        argon2::Algorithm::Argon2id,
        argon2::Version::V0x13,
        argon2::Params::new(former.0, former.1, 1, None).unwrap(),
    )
    .hash_password(
        signup.password.as_bytes(),
        &SaltString::encode_b64(b"sixteen byte salt").unwrap(),
    )
    .unwrap()
    .to_string();
    let stored = async || password_hash(app, signup).await;
    let login = |password: &str| app.login(&signup.slug, &signup.email, password);
    sqlx::query("UPDATE users SET password_hash = $2 WHERE id = $1::uuid")
        .bind(&signup.user_id)
        .bind(&former)
        .execute(app.db.pool())
        .await
        .unwrap();
    login("not-the-password-at-all")
        .await
        .err(401, "invalid_credentials");
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(stored().await, former, "a failed login stores nothing");

    login(&signup.password).await.ok();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let anew = loop {
        let hash = stored().await;
        if hash != former {
            break hash;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the hash was not stored anew"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert!(
        anew.starts_with(&format!("$argon2id$v=19${expected}$")),
        "{anew}"
    );
    // The new hash is the same password's.
    login(&signup.password).await.ok();
    login("not-the-password-at-all")
        .await
        .err(401, "invalid_credentials");
    assert_eq!(stored().await, anew);
}
