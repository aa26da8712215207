//! Multi-factor login (contract §5, revision 3): TOTP enrollment and
//! confirmation, the login's challenge and `login_mfa`, recovery codes,
//! the lockout through second factors, disabling, regeneration, tenants
//! that require MFA, and secrets kept out of the database and events.
//!
//! Codes come from `olympus_tests::totp`, written from RFC 6238 apart from
//! the worker. Time is the app's clock: moving it 30 s on gives the next
//! step's codes without waiting.

use olympus_runtime::clock::Clock;
use olympus_tests::ops::Call;
use olympus_tests::totp::Authenticator;
use olympus_tests::{jwt, with_app, with_app_opts, Encoding, Options, Signup, TestApp};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::time::Duration;

const STEP: Duration = Duration::from_secs(30);

fn now(app: &TestApp) -> chrono::DateTime<chrono::Utc> {
    app.clock.now()
}

fn text(v: &Value) -> String {
    v.as_str()
        .unwrap_or_else(|| panic!("a string: {v}"))
        .to_owned()
}

/// TOTP turned on for the holder of `token`: the authenticator, and the
/// ten recovery codes confirming answered. The confirming code is this
/// step's (see [`enable_at`]): a test's next code is a later step's.
pub(crate) async fn enable(app: &TestApp, token: &str) -> (Authenticator, Vec<String>) {
    let (authenticator, codes, _) = enable_at(app, token).await;
    (authenticator, codes)
}

/// [`enable`], and the step of the code that confirmed it.
async fn enable_at(app: &TestApp, token: &str) -> (Authenticator, Vec<String>, i64) {
    let enrolled = app.enroll_totp(token).await.ok();
    let authenticator = Authenticator::new(enrolled["secret"].as_str().unwrap());
    let step = Authenticator::step_at(now(app).timestamp());
    let code = authenticator.code(step);
    let confirmed = app
        .confirm_totp(token, &enrolled["enrollment_id"], &code)
        .await
        .ok();
    let codes = confirmed["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(text)
        .collect();
    (authenticator, codes, step)
}

/// The login of `signup`'s owner, which must answer a challenge: its
/// `mfa_token`.
async fn challenge(app: &TestApp, signup: &Signup) -> String {
    let reply = app
        .login(&signup.slug, &signup.email, &signup.password)
        .await
        .ok();
    text(&reply["mfa_token"])
}

fn login_mfa_code<'a>(app: &'a TestApp, mfa_token: &str, code: &str) -> Call<'a> {
    app.login_mfa(mfa_token).with("code", code)
}

async fn failed_logins(app: &TestApp, user_id: &str) -> (i32, bool) {
    sqlx::query_as(
        "SELECT failed_logins, coalesce(locked_until > now(), false) FROM users WHERE id = $1::uuid",
    )
    .bind(user_id)
    .fetch_one(app.db.pool())
    .await
    .unwrap()
}

#[tokio::test]
async fn totp_turns_on_only_once_confirmed_with_a_code_from_the_enrolled_secret() {
    with_app(async |app| {
        let signup = app.signup(Encoding::Json).await;
        let token = signup.access_token.as_str();
        let enrolled = app.enroll_totp(token).await.ok();
        let secret = text(&enrolled["secret"]);
        assert_eq!(secret.len(), 32, "160 bits in base32: {secret}");
        let uri = text(&enrolled["otpauth_uri"]);
        let label = format!(
            "otpauth://totp/Acme%20Corporation:{}?",
            signup.email.replace('@', "%40")
        );
        assert!(uri.starts_with(&label), "{uri}");
        assert!(uri.contains(&format!("secret={secret}")), "{uri}");
        assert!(uri.contains("issuer=Acme%20Corporation"), "{uri}");

        // Not on until confirmed: logins are a password, the user says so.
        let status = app.mfa_status(token).await.ok();
        assert_eq!(status, json!({"totp": false, "recovery_codes_left": 0}));
        let session = app
            .login(&signup.slug, &signup.email, &signup.password)
            .await
            .ok();
        assert_eq!(session["user"]["mfa_enabled"], false);
        assert!(session["tokens"]["access_token"].is_string());

        let authenticator = Authenticator::new(&secret);
        let step = Authenticator::step_at(now(app).timestamp());
        let id = &enrolled["enrollment_id"];
        app.confirm_totp(token, id, &authenticator.code(step - 3))
            .await
            .err(401, "invalid_credentials");
        app.confirm_totp(token, uuid::Uuid::now_v7(), &authenticator.code(step))
            .await
            .err(404, "not_found");
        let confirmed = app
            .confirm_totp(token, id, &authenticator.code(step))
            .await
            .ok();
        let codes: Vec<String> = confirmed["recovery_codes"]
            .as_array()
            .unwrap()
            .iter()
            .map(text)
            .collect();
        assert_eq!(codes.len(), 10);
        assert_eq!(codes.iter().collect::<BTreeSet<_>>().len(), 10);
        for code in &codes {
            // 12 base32 characters, 60 bits, in three groups.
            assert_eq!(code.len(), 14, "{code}");
            assert!(code.split('-').all(|g| g.len() == 4), "{code}");
        }

        let status = app.mfa_status(token).await.ok();
        assert_eq!(status, json!({"totp": true, "recovery_codes_left": 10}));
        assert_eq!(app.me(token).await.ok()["user"]["mfa_enabled"], true);
        let again = app.enroll_totp(token).await.err(409, "conflict");
        assert_eq!(again["details"]["field"], "totp");
        app.confirm_totp(token, id, &authenticator.code(step + 1))
            .await
            .err(409, "conflict");

        let enabled = app
            .events(Some(&signup.tenant_id), Some("user.mfa_enabled"), 1)
            .await;
        assert_eq!(
            enabled[0].body["data"],
            // The login made before confirming ended.
            json!({"user_id": signup.user_id, "recovery_codes": 10, "sessions_revoked": 1})
        );
        assert_eq!(enabled[0].body["actor_id"], signup.user_id.as_str());
    })
    .await;
}

/// A deployment may name the issuer authenticator apps show
/// (`OLYMPUS_TOTP_ISSUER`); a colon, which separates issuer and label in
/// the URI, does not survive in it.
#[tokio::test]
async fn a_configured_issuer_names_the_secret_in_authenticator_apps() {
    let options = Options {
        totp_issuer: Some("Acme: Identity".to_owned()),
        ..Options::default()
    };
    with_app_opts(options, async |app| {
        let signup = app.signup(Encoding::Json).await;
        let enrolled = app.enroll_totp(&signup.access_token).await.ok();
        let uri = text(&enrolled["otpauth_uri"]);
        let label = format!(
            "otpauth://totp/Acme%20Identity:{}?",
            signup.email.replace('@', "%40")
        );
        assert!(uri.starts_with(&label), "{uri}");
        assert!(uri.contains("issuer=Acme%20Identity"), "{uri}");
        assert!(!uri.contains("Corporation"), "not the tenant's name: {uri}");
    })
    .await;
}

#[tokio::test]
async fn an_unconfirmed_enrollment_expires_and_a_new_one_replaces_it() {
    with_app(async |app| {
        let signup = app.signup(Encoding::Json).await;
        let token = signup.access_token.as_str();
        let first = app.enroll_totp(token).await.ok();
        let second = app.enroll_totp(token).await.ok();
        assert_ne!(first["secret"], second["secret"]);
        let old = Authenticator::new(first["secret"].as_str().unwrap());
        // The first enrollment is gone: its id and its secret both.
        app.confirm_totp(token, &first["enrollment_id"], &old.code_at(now(app)))
            .await
            .err(404, "not_found");
        app.clock.advance(Duration::from_secs(601));
        let new = Authenticator::new(second["secret"].as_str().unwrap());
        app.confirm_totp(token, &second["enrollment_id"], &new.code_at(now(app)))
            .await
            .err(404, "not_found");
        assert_eq!(app.mfa_status(token).await.ok()["totp"], false);
    })
    .await;
}

#[tokio::test]
async fn a_login_with_totp_answers_a_challenge_and_a_code_gets_tokens_with_otp() {
    with_app(async |app| {
        let signup = app.signup(Encoding::Json).await;
        let (authenticator, _, step) = enable_at(app, &signup.access_token).await;
        // The challenge, in both encodings: no session, no tokens.
        for encoding in [Encoding::Json, Encoding::MsgPack] {
            let reply = app
                .login(&signup.slug, &signup.email, &signup.password)
                .encoded(encoding)
                .await
                .ok();
            let keys: BTreeSet<&str> = reply
                .as_object()
                .unwrap()
                .keys()
                .map(|k| k.as_str())
                .collect();
            assert_eq!(
                keys,
                BTreeSet::from(["mfa_required", "mfa_token", "methods", "expires_in"]),
                "{reply}"
            );
            assert_eq!(reply["mfa_required"], true);
            assert_eq!(reply["methods"], json!(["totp", "recovery_code"]));
            assert_eq!(reply["expires_in"], 300);
        }
        // The confirming code was this step's: it is spent.
        let mfa_token = challenge(app, &signup).await;
        let (spent, next) = (authenticator.code(step), authenticator.code(step + 1));
        login_mfa_code(app, &mfa_token, &spent)
            .await
            .err(401, "invalid_credentials");
        let session = login_mfa_code(app, &mfa_token, &next).await.ok();
        assert_eq!(session["user"]["id"], signup.user_id.as_str());
        assert_eq!(session["user"]["mfa_enabled"], true);
        let access = text(&session["tokens"]["access_token"]);
        let claims = jwt::part(&access, 1);
        assert_eq!(claims["amr"], json!(["pwd", "otp"]));
        let at = now(app).timestamp();
        let auth_time = claims["auth_time"].as_i64().unwrap();
        assert!((at - 5..=at).contains(&auth_time), "{auth_time} vs {at}");
        app.me(&access).await.ok();
        let introspected = app.introspect(&access).await.ok();
        assert_eq!(introspected["amr"], json!(["pwd", "otp"]));

        // Single use: the token is spent, whatever the code.
        app.clock.advance(STEP);
        let fresh = authenticator.code(step + 2);
        login_mfa_code(app, &mfa_token, &fresh)
            .await
            .err(401, "invalid_credentials");
        // A code works once: the one that logged in, on a new challenge.
        let other = challenge(app, &signup).await;
        login_mfa_code(app, &other, &next)
            .await
            .err(401, "invalid_credentials");
        login_mfa_code(app, &other, &fresh).await.ok();

        // A refresh keeps the login's amr and auth_time.
        let refreshed = app
            .refresh(session["tokens"]["refresh_token"].as_str().unwrap())
            .await
            .ok();
        let claims = jwt::part(refreshed["tokens"]["access_token"].as_str().unwrap(), 1);
        assert_eq!(claims["amr"], json!(["pwd", "otp"]));
        assert_eq!(claims["auth_time"], auth_time);

        // Exactly one of code and recovery_code.
        let third = challenge(app, &signup).await;
        let neither = app.login_mfa(&third).await.err(422, "validation_failed");
        assert!(neither["details"]["fields"]["code"].is_array(), "{neither}");
        app.login_mfa(&third)
            .with("code", "123456")
            .with("recovery_code", "abcd-efgh-ijkl")
            .await
            .err(422, "validation_failed");
        // An unknown or malformed token, an expired one: all the same.
        for bad in ["", "not-a-token", &"A".repeat(64)] {
            login_mfa_code(app, bad, "123456")
                .await
                .err(401, "invalid_credentials");
        }
        app.clock.advance(Duration::from_secs(301));
        login_mfa_code(app, &third, &authenticator.code_at(now(app)))
            .await
            .err(401, "invalid_credentials");

        let logged_in = app
            .events(Some(&signup.tenant_id), Some("user.logged_in"), 2)
            .await;
        assert_eq!(logged_in.len(), 2, "one per login_mfa, none per challenge");
        let failed = app
            .events(Some(&signup.tenant_id), Some("user.login_failed"), 2)
            .await;
        let reasons: Vec<&Value> = failed.iter().map(|e| &e.body["data"]["reason"]).collect();
        assert_eq!(reasons, [&json!("wrong_code"), &json!("wrong_code")]);
    })
    .await;
}

#[tokio::test]
async fn a_recovery_code_logs_in_once() {
    with_app(async |app| {
        let signup = app.signup(Encoding::Json).await;
        let (_, codes) = enable(app, &signup.access_token).await;
        let mfa_token = challenge(app, &signup).await;
        // As typed: any case, spaces for dashes.
        let typed = codes[0].to_uppercase().replace('-', " ");
        let session = app
            .login_mfa(&mfa_token)
            .with("recovery_code", &typed)
            .await
            .ok();
        let access = text(&session["tokens"]["access_token"]);
        assert_eq!(jwt::part(&access, 1)["amr"], json!(["pwd", "otp"]));
        let status = app.mfa_status(&access).await.ok();
        assert_eq!(status["recovery_codes_left"], 9);

        let again = challenge(app, &signup).await;
        app.login_mfa(&again)
            .with("recovery_code", &codes[0])
            .await
            .err(401, "invalid_credentials");
        app.login_mfa(&again)
            .with("recovery_code", &codes[1])
            .await
            .ok();
    })
    .await;
}

#[tokio::test]
async fn a_challenge_dies_after_five_wrong_codes() {
    // A lockout threshold above five, so that the challenge's own limit is
    // what stops it.
    let options = Options {
        lockout_threshold: 10,
        ..Options::default()
    };
    with_app_opts(options, async |app| {
        let signup = app.signup(Encoding::Json).await;
        let (authenticator, codes) = enable(app, &signup.access_token).await;
        let mfa_token = challenge(app, &signup).await;
        for _ in 0..5 {
            login_mfa_code(app, &mfa_token, "000000")
                .await
                .err(401, "invalid_credentials");
        }
        let (_, next) = authenticator.two_codes(now(app));
        login_mfa_code(app, &mfa_token, &next)
            .await
            .err(401, "invalid_credentials");
        app.login_mfa(&mfa_token)
            .with("recovery_code", &codes[0])
            .await
            .err(401, "invalid_credentials");
        assert_eq!(failed_logins(app, &signup.user_id).await, (5, false));
        // A new challenge, a right code: the count is cleared.
        let fresh = challenge(app, &signup).await;
        login_mfa_code(app, &fresh, &next).await.ok();
        assert_eq!(failed_logins(app, &signup.user_id).await, (0, false));
    })
    .await;
}

#[tokio::test]
async fn wrong_codes_count_toward_the_lockout_and_a_right_password_does_not_clear_them() {
    with_app(async |app| {
        let signup = app.signup(Encoding::Json).await;
        let (authenticator, _) = enable(app, &signup.access_token).await;
        let first = challenge(app, &signup).await;
        for _ in 0..4 {
            login_mfa_code(app, &first, "000000")
                .await
                .err(401, "invalid_credentials");
        }
        assert_eq!(failed_logins(app, &signup.user_id).await, (4, false));
        // The right password again: a new challenge, the count kept.
        let second = challenge(app, &signup).await;
        assert_eq!(failed_logins(app, &signup.user_id).await, (4, false));
        login_mfa_code(app, &second, "000000")
            .await
            .err(401, "invalid_credentials");
        assert_eq!(failed_logins(app, &signup.user_id).await, (5, true));
        let locked = app
            .events(Some(&signup.tenant_id), Some("user.locked"), 1)
            .await;
        assert_eq!(locked[0].body["data"]["failed_logins"], 5);
        // Locked: the right code and the right password are refused alike.
        let (_, next) = authenticator.two_codes(now(app));
        login_mfa_code(app, &second, &next)
            .await
            .err(401, "invalid_credentials");
        app.login(&signup.slug, &signup.email, &signup.password)
            .await
            .err(401, "invalid_credentials");
        let failed = app
            .events(Some(&signup.tenant_id), Some("user.login_failed"), 7)
            .await;
        assert_eq!(failed[5].body["data"]["reason"], "locked");
    })
    .await;
}

#[tokio::test]
async fn parallel_wrong_codes_compare_no_more_than_the_lockout_allows() {
    with_app(async |app| {
        let signup = app.signup(Encoding::Json).await;
        enable(app, &signup.access_token).await;
        // Two challenges, ten wrong codes at once: five compared, then the
        // account is locked.
        let tokens = [challenge(app, &signup).await, challenge(app, &signup).await];
        let guesses = (0..10).map(|i| {
            let code = format!("{:06}", 100_000 + i);
            login_mfa_code(app, &tokens[i % 2], &code).send()
        });
        for reply in futures::future::join_all(guesses).await {
            reply.err(401, "invalid_credentials");
        }
        assert_eq!(failed_logins(app, &signup.user_id).await, (5, true));
        let failed = app
            .events(Some(&signup.tenant_id), Some("user.login_failed"), 10)
            .await;
        let compared = failed
            .iter()
            .filter(|e| e.body["data"]["reason"] == "wrong_code")
            .count();
        assert_eq!(compared, 5, "exactly five codes were compared");
        let locked = app
            .events(Some(&signup.tenant_id), Some("user.locked"), 1)
            .await;
        assert_eq!(locked.len(), 1);
    })
    .await;
}

#[tokio::test]
async fn disabling_takes_the_password_and_a_code_and_ends_every_other_session() {
    with_app(async |app| {
        let signup = app.signup(Encoding::Json).await;
        let token = signup.access_token.as_str();
        let none = app
            .disable_mfa(token, &signup.password)
            .with("code", "123456")
            .await
            .err(409, "invalid_state");
        assert_eq!(none["details"]["state"], "mfa_not_enabled");
        let (authenticator, codes) = enable(app, token).await;
        // Another device's session, through the challenge.
        let mfa_token = challenge(app, &signup).await;
        let other = app
            .login_mfa(&mfa_token)
            .with("recovery_code", &codes[0])
            .await
            .ok();
        let other = text(&other["tokens"]["access_token"]);

        app.disable_mfa(token, &signup.password)
            .await
            .err(422, "validation_failed");
        let (_, next) = authenticator.two_codes(now(app));
        app.disable_mfa(token, "not-the-password")
            .with("code", &next)
            .await
            .err(401, "invalid_credentials");
        app.disable_mfa(token, &signup.password)
            .with("code", "000000")
            .await
            .err(401, "invalid_credentials");
        assert_eq!(failed_logins(app, &signup.user_id).await, (2, false));
        app.disable_mfa(token, &signup.password)
            .with("code", &next)
            .await
            .ok();
        assert_eq!(failed_logins(app, &signup.user_id).await, (0, false));

        // The caller's session stays; the other ends within a second.
        app.me(token).await.ok();
        app.assert_refused_within_a_second(&other).await;
        let status = app.mfa_status(token).await.ok();
        assert_eq!(status, json!({"totp": false, "recovery_codes_left": 0}));
        let session = app
            .login(&signup.slug, &signup.email, &signup.password)
            .await
            .ok();
        assert!(
            session["tokens"]["access_token"].is_string(),
            "a password login again"
        );

        let disabled = app
            .events(Some(&signup.tenant_id), Some("user.mfa_disabled"), 1)
            .await;
        assert_eq!(
            disabled[0].body["data"],
            json!({"user_id": signup.user_id, "sessions_revoked": 1})
        );
        let revoked = app
            .events(Some(&signup.tenant_id), Some("session.revoked"), 1)
            .await;
        assert_eq!(revoked[0].body["data"]["reason"], "mfa_disabled");
        // Nothing is mailed but the signup's verification.
        let mail = app.mail(Some(&signup.tenant_id), None, 1).await;
        assert_eq!(
            mail.len(),
            1,
            "{:?}",
            mail.iter().map(|m| &m.subject).collect::<Vec<_>>()
        );
    })
    .await;
}

#[tokio::test]
async fn regenerating_replaces_every_recovery_code() {
    with_app(async |app| {
        let signup = app.signup(Encoding::Json).await;
        let token = signup.access_token.as_str();
        app.regenerate_recovery_codes(token, "123456")
            .await
            .err(409, "invalid_state");
        let (authenticator, old) = enable(app, token).await;
        app.regenerate_recovery_codes(token, "000000")
            .await
            .err(401, "invalid_credentials");
        assert_eq!(failed_logins(app, &signup.user_id).await, (1, false));
        let (_, next) = authenticator.two_codes(now(app));
        let new = app.regenerate_recovery_codes(token, &next).await.ok();
        let new: Vec<String> = new["recovery_codes"]
            .as_array()
            .unwrap()
            .iter()
            .map(text)
            .collect();
        assert_eq!(new.len(), 10);
        assert!(new.iter().all(|c| !old.contains(c)));
        // A code works once: not for another regeneration.
        app.regenerate_recovery_codes(token, &next)
            .await
            .err(401, "invalid_credentials");

        let mfa_token = challenge(app, &signup).await;
        app.login_mfa(&mfa_token)
            .with("recovery_code", &old[0])
            .await
            .err(401, "invalid_credentials");
        app.login_mfa(&mfa_token)
            .with("recovery_code", &new[0])
            .await
            .ok();
        let regenerated = app
            .events(
                Some(&signup.tenant_id),
                Some("user.recovery_codes_regenerated"),
                1,
            )
            .await;
        assert_eq!(
            regenerated[0].body["data"],
            json!({"user_id": signup.user_id, "recovery_codes": 10})
        );
    })
    .await;
}

/// The operations a token without a second factor keeps in a tenant that
/// requires one, and some it loses.
#[tokio::test]
async fn a_tenant_that_requires_mfa_confines_tokens_of_logins_without_a_code() {
    with_app(async |app| {
        let signup = app.signup(Encoding::Json).await;
        let owner = signup.access_token.as_str();
        let admin = app
            .join(&signup, &format!("admin-{}", signup.email), "admin")
            .await;
        let member = app
            .join(&signup, &format!("member-{}", signup.email), "member")
            .await;
        let refused = app
            .update_tenant(&admin.access_token, json!({"require_mfa": true}))
            .await
            .err(403, "forbidden");
        assert_eq!(refused["details"]["field"], "require_mfa");
        let updated = app
            .update_tenant(owner, json!({"require_mfa": true}))
            .await
            .ok();
        assert_eq!(updated["tenant"]["require_mfa"], true);
        let event = app
            .events(Some(&signup.tenant_id), Some("tenant.updated"), 1)
            .await;
        assert_eq!(event[0].body["data"]["tenant"]["require_mfa"], true);

        // The member's existing token: only what lets them enroll.
        let token = member.access_token.as_str();
        app.me(token).await.ok();
        app.mfa_status(token).await.ok();
        for call in [
            app.get_tenant(token),
            app.list_products(token),
            app.list_sessions(token),
        ] {
            let refused = call.await.err(403, "forbidden");
            assert_eq!(refused["details"]["reason"], "mfa_required", "{refused}");
        }
        // Owners too.
        let refused = app.get_tenant(owner).await.err(403, "forbidden");
        assert_eq!(refused["details"]["reason"], "mfa_required");
        let introspected = app.introspect(token).await.ok();
        assert_eq!(introspected["active"], true);
        assert_eq!(introspected["amr"], json!(["pwd"]));

        // Enrolled, the same token is still a login without a code; a new
        // login with one reaches everything.
        let (authenticator, _) = enable(app, token).await;
        app.get_tenant(token).await.err(403, "forbidden");
        let challenge = app
            .login(
                &signup.slug,
                &member.email,
                olympus_tests::client::GOOD_PASSWORD,
            )
            .await
            .ok();
        let (_, next) = authenticator.two_codes(now(app));
        let session = login_mfa_code(app, challenge["mfa_token"].as_str().unwrap(), &next)
            .await
            .ok();
        let strong = text(&session["tokens"]["access_token"]);
        app.get_tenant(&strong).await.ok();
        app.list_products(&strong).await.ok();

        // The owner enrolls too, logs in with a code, and turns it off: the
        // member's first token reaches everything again.
        let (owner_app, _) = enable(app, owner).await;
        let challenge = app
            .login(&signup.slug, &signup.email, &signup.password)
            .await
            .ok();
        let (_, next) = owner_app.two_codes(now(app));
        let session = login_mfa_code(app, challenge["mfa_token"].as_str().unwrap(), &next)
            .await
            .ok();
        let owner_strong = text(&session["tokens"]["access_token"]);
        let updated = app
            .update_tenant(&owner_strong, json!({"require_mfa": false}))
            .await
            .ok();
        assert_eq!(updated["tenant"]["require_mfa"], false);
        app.get_tenant(token).await.ok();
    })
    .await;
}

#[tokio::test]
async fn secrets_and_codes_rest_sealed_or_hashed_and_no_event_carries_one() {
    with_app(async |app| {
        let signup = app.signup(Encoding::Json).await;
        let token = signup.access_token.as_str();
        let enrolled = app.enroll_totp(token).await.ok();
        let secret = text(&enrolled["secret"]);
        let authenticator = Authenticator::new(&secret);
        let (code, next) = authenticator.two_codes(now(app));
        let confirmed = app
            .confirm_totp(token, &enrolled["enrollment_id"], &code)
            .await
            .ok();
        let regenerated = app.regenerate_recovery_codes(token, &next).await.ok();
        let mfa_token = challenge(app, &signup).await;
        let mut codes: Vec<String> = [&confirmed, &regenerated]
            .iter()
            .flat_map(|r| r["recovery_codes"].as_array().unwrap().iter().map(text))
            .collect();
        app.login_mfa(&mfa_token)
            .with("recovery_code", &codes[10])
            .await
            .ok();

        let raw_secret =
            base32::decode(base32::Alphabet::Rfc4648 { padding: false }, &secret).unwrap();
        let mut needles: Vec<Vec<u8>> = vec![raw_secret, secret.clone().into_bytes()];
        needles.push(mfa_token.clone().into_bytes());
        needles.push(code.into_bytes());
        needles.push(next.into_bytes());
        for c in codes.drain(..) {
            needles.push(c.replace('-', "").into_bytes());
            needles.push(c.into_bytes());
        }
        let contains = |hay: &[u8], needle: &[u8]| hay.windows(needle.len()).any(|w| w == needle);

        // Every byte the tenant's rows hold that could carry one.
        let rows: Vec<Vec<u8>> = sqlx::query_scalar(
            "SELECT totp_secret FROM users WHERE id = $1::uuid
             UNION ALL SELECT hash FROM recovery_codes WHERE user_id = $1::uuid
             UNION ALL SELECT token_hash FROM mfa_challenges WHERE user_id = $1::uuid
             UNION ALL SELECT convert_to(row_to_json(u)::text, 'UTF8') FROM users u
                        WHERE id = $1::uuid
             UNION ALL SELECT payload FROM outbox WHERE tenant_id = $2::uuid",
        )
        .bind(&signup.user_id)
        .bind(&signup.tenant_id)
        .fetch_all(app.db.pool())
        .await
        .unwrap();
        assert!(rows.len() >= 13, "{} rows", rows.len());
        for row in &rows {
            for needle in &needles {
                assert!(!contains(row, needle), "a secret at rest in plain text");
            }
        }
        // And every event of the tenant, as published.
        app.outbox_published(Duration::from_secs(10)).await.unwrap();
        let events = app.events(Some(&signup.tenant_id), None, 5).await;
        for event in &events {
            for needle in &needles {
                assert!(
                    !contains(&event.payload, needle),
                    "{} carries a secret",
                    event.subject
                );
            }
        }
        let types: BTreeSet<&str> = events
            .iter()
            .map(|e| e.body["type"].as_str().unwrap())
            .collect();
        assert!(
            types.contains("user.mfa_enabled") && types.contains("user.recovery_codes_regenerated")
        );
    })
    .await;
}

#[tokio::test]
async fn turning_totp_on_ends_every_other_session_of_the_password_alone() {
    with_app(async |app| {
        let signup = app.signup(Encoding::Json).await;
        // A session opened with the password alone, say with a leaked one.
        let other = app
            .login(&signup.slug, &signup.email, &signup.password)
            .await
            .ok();
        let other = text(&other["tokens"]["access_token"]);
        enable(app, &signup.access_token).await;
        app.me(&signup.access_token).await.ok();
        app.assert_refused_within_a_second(&other).await;
        let enabled = app
            .events(Some(&signup.tenant_id), Some("user.mfa_enabled"), 1)
            .await;
        assert_eq!(enabled[0].body["data"]["sessions_revoked"], 1);
        let revoked = app
            .events(Some(&signup.tenant_id), Some("session.revoked"), 1)
            .await;
        assert_eq!(revoked[0].body["data"]["reason"], "mfa_enabled");
    })
    .await;
}

/// With TOTP on, no right password clears the count of wrong codes, through
/// whichever operation asks for it: only a right code does.
#[tokio::test]
async fn no_operation_that_asks_for_the_password_clears_the_count_of_wrong_codes() {
    with_app(async |app| {
        let signup = app.signup(Encoding::Json).await;
        let token = signup.access_token.as_str();
        let (authenticator, _) = enable(app, token).await;
        for _ in 0..2 {
            app.regenerate_recovery_codes(token, "000000")
                .await
                .err(401, "invalid_credentials");
        }
        assert_eq!(failed_logins(app, &signup.user_id).await, (2, false));
        // The right password, given to three operations.
        let elsewhere = format!("elsewhere@{}.example.com", signup.slug);
        app.change_email(token, &elsewhere, &signup.password)
            .await
            .ok();
        assert_eq!(failed_logins(app, &signup.user_id).await, (2, false));
        challenge(app, &signup).await;
        assert_eq!(failed_logins(app, &signup.user_id).await, (2, false));
        let changed = app
            .change_password(token, &signup.password, "harbor-ginger-tulip-comet")
            .await
            .ok();
        assert_eq!(failed_logins(app, &signup.user_id).await, (2, false));
        let token = text(&changed["tokens"]["access_token"]);
        for _ in 0..3 {
            app.regenerate_recovery_codes(&token, "000000")
                .await
                .err(401, "invalid_credentials");
        }
        assert_eq!(failed_logins(app, &signup.user_id).await, (5, true));
        // Once the lock ends, a right code clears the count.
        app.clock.advance(Duration::from_secs(1801));
        let (_, next) = authenticator.two_codes(now(app));
        app.regenerate_recovery_codes(&token, &next).await.ok();
        assert_eq!(failed_logins(app, &signup.user_id).await, (0, false));
    })
    .await;
}
