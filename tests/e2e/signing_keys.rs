//! Signing keys (contract §4, §5 `auth.jwks`): EdDSA access tokens that
//! anyone verifies from the published key set alone, rotation that logs
//! nobody out, revocation refused by every process within a second, private
//! keys that rest sealed, processes without the auth worker that hold none,
//! and revision 2's HS256 tokens only inside the migration window.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use olympus_tests::app::TEST_KEY_ENCRYPTION_KEY;
use olympus_tests::jwt::{forged_under, part};
use olympus_tests::{with_app, with_app_opts, Encoding, Options, TestApp};
use serde_json::{json, Value};
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;

use crate::OLYMPUS;

fn kid_of(token: &str) -> String {
    part(token, 0)["kid"].as_str().unwrap().to_owned()
}

/// `auth.jwks`'s reply.
async fn jwks(app: &TestApp, encoding: Encoding) -> Value {
    app.call(encoding, "auth.v1.jwks", None, json!({}))
        .await
        .ok()
}

fn kids(set: &Value) -> Vec<String> {
    set["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect()
}

/// The published kids once they are `expected`, within a second.
async fn published_within_a_second(app: &TestApp, expected: &[&str]) -> Duration {
    let start = Instant::now();
    loop {
        let published = kids(&jwks(app, Encoding::Json).await);
        if published == expected {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < Duration::from_secs(1),
            "published {published:?}, not {expected:?}, after a second"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// `olympus keys ARGS` on this test's database, NATS and prefix, with its
/// key-encryption key.
async fn keys(app: &TestApp, args: &[&str]) -> Output {
    tokio::process::Command::new(OLYMPUS)
        .arg("keys")
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATABASE_URL", app.config().database_url)
        .env("NATS_URL", &app.nats_url)
        .env("OLYMPUS_SUBJECT_PREFIX", &app.prefix)
        .env("OLYMPUS_KEY_ENCRYPTION_KEY", TEST_KEY_ENCRYPTION_KEY)
        .stdin(Stdio::null())
        .output()
        .await
        .expect("running olympus keys")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// `olympus keys add`: the new key's id.
async fn add_key(app: &TestApp) -> String {
    let added = keys(app, &["add"]).await;
    assert!(added.status.success(), "{}", stderr(&added));
    stdout(&added).trim().to_owned()
}

/// examples/python/verify_token.py on `token`: whether it verified, and
/// what it printed (the claims, or why not).
async fn verify_in_python(app: &TestApp, token: &str) -> (bool, String) {
    verify_in_python_with(app, token, &[]).await
}

/// [`verify_in_python`] with more environment.
pub async fn verify_in_python_with(
    app: &TestApp,
    token: &str,
    env: &[(&str, &str)],
) -> (bool, String) {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let mut child = tokio::process::Command::new(olympus_tests::python::client_python())
        .arg(format!("{root}/examples/python/verify_token.py"))
        .env("NATS_URL", &app.nats_url)
        .env("OLYMPUS_SUBJECT_PREFIX", &app.prefix)
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the typed client's python (tools/python-venv)");
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(token.as_bytes()).await.unwrap();
    drop(stdin);
    let out = child.wait_with_output().await.unwrap();
    let said = format!("{}{}", stdout(&out), stderr(&out));
    (out.status.success(), said)
}

#[tokio::test]
async fn tokens_are_eddsa_and_verify_in_python_from_the_published_set_alone() {
    with_app(async |app| {
        let signup = app.signup(Encoding::Json).await;
        let token = &signup.access_token;
        let header = part(token, 0);
        assert_eq!(header["alg"], "EdDSA");
        assert_eq!(header["typ"], "at+jwt");
        let (kid, key) = app.signing_key().await;
        assert_eq!(header["kid"], kid.as_str());
        let claims = part(token, 1);
        assert_eq!(claims["amr"], json!(["pwd"]));
        assert_eq!(claims["auth_time"], claims["iat"]);
        for name in [
            "iss", "aud", "sub", "tid", "sid", "role", "iat", "nbf", "exp", "jti",
        ] {
            assert!(claims.get(name).is_some(), "{name} in {claims}");
        }

        // The key set, as the contract names its fields, in both encodings
        // and for an empty payload too.
        let public: Vec<u8> =
            sqlx::query_scalar("SELECT public_key FROM signing_keys WHERE kid = $1")
                .bind(&kid)
                .fetch_one(app.db.pool())
                .await
                .unwrap();
        let expected = json!({"keys": [{
            "kty": "OKP", "crv": "Ed25519", "x": URL_SAFE_NO_PAD.encode(&public),
            "kid": kid, "alg": "EdDSA", "use": "sig",
        }]});
        for encoding in Encoding::BOTH {
            assert_eq!(jwks(app, encoding).await, expected, "{encoding:?}");
        }
        let empty = app
            .raw("auth.v1.jwks", async_nats::HeaderMap::new(), Vec::new())
            .await;
        assert_eq!(empty.ok(), expected);

        let (verified, said) = verify_in_python(app, token).await;
        assert!(verified, "{said}");
        let printed: Value = serde_json::from_str(said.trim()).unwrap();
        assert_eq!(printed["sub"], signup.user_id.as_str());
        assert_eq!(printed["amr"], json!(["pwd"]));

        // Python refuses what the workers refuse: another key under the
        // published kid, and HS256.
        let ed = olympus_tests::jwt::header(Algorithm::EdDSA, Some("at+jwt"), Some(&kid));
        let forged = forged_under(&kid, token);
        let hs = Header {
            alg: Algorithm::HS256,
            ..ed.clone()
        };
        let hs256 = jsonwebtoken::encode(&hs, &claims, &EncodingKey::from_secret(&public).unwrap())
            .unwrap();
        for (case, bad) in [("another key", &forged), ("HS256", &hs256)] {
            let (verified, said) = verify_in_python(app, bad).await;
            assert!(!verified, "{case}: {said}");
            assert!(said.contains("refused"), "{case}: {said}");
            app.me(bad).await.err(401, "unauthenticated");
        }
        // The control: the same claims under the real key pass both.
        let control = jsonwebtoken::encode(&ed, &claims, &key).unwrap();
        assert!(verify_in_python(app, &control).await.0);
        app.me(&control).await.ok();
    })
    .await;
}

#[tokio::test]
async fn amr_and_auth_time_are_the_logins_through_refreshes_and_password_changes() {
    with_app(async |app| {
        let signup = app.signup(Encoding::Json).await;
        let login_time = part(&signup.access_token, 1)["auth_time"].clone();
        app.clock.advance(Duration::from_secs(120));
        let refreshed = app.refresh(&signup.refresh_token).await.ok();
        let refreshed = refreshed["tokens"]["access_token"]
            .as_str()
            .unwrap()
            .to_owned();
        let claims = part(&refreshed, 1);
        assert_eq!(claims["auth_time"], login_time);
        assert_eq!(claims["amr"], json!(["pwd"]));
        assert_ne!(claims["iat"], login_time, "a new token, of the same login");
        app.clock.advance(Duration::from_secs(120));
        let changed = app
            .change_password(&refreshed, &signup.password, "a brand new passphrase 93")
            .await
            .ok();
        let changed = changed["tokens"]["access_token"].as_str().unwrap();
        assert_eq!(part(changed, 1)["auth_time"], login_time);
        let introspected = app.introspect(changed).await.ok();
        assert_eq!(introspected["amr"], json!(["pwd"]));
        // A new login is a new auth_time.
        let login = app
            .login(&signup.slug, &signup.email, "a brand new passphrase 93")
            .await
            .ok();
        let fresh = login["tokens"]["access_token"].as_str().unwrap();
        assert_ne!(part(fresh, 1)["auth_time"], login_time);
    })
    .await;
}

#[tokio::test]
async fn a_rotation_keeps_old_tokens_valid_and_signs_new_ones_with_the_new_kid() {
    with_app(async |app| {
        let signup = app.signup(Encoding::Json).await;
        let old = kid_of(&signup.access_token);
        let login = async || {
            let reply = app
                .login(&signup.slug, &signup.email, &signup.password)
                .await
                .ok();
            reply["tokens"]["access_token"].as_str().unwrap().to_owned()
        };

        // Added: published at once, before it signs.
        let new = add_key(app).await;
        assert_ne!(new, old);
        published_within_a_second(app, &[&new, &old]).await;
        assert_eq!(kid_of(&login().await), old, "a standby key does not sign");

        let activated = keys(app, &["activate", &new]).await;
        assert!(activated.status.success(), "{}", stderr(&activated));
        assert_eq!(
            stdout(&activated),
            format!("{old}: active -> retired\n{new}: standby -> active\n")
        );
        let warned = stderr(&activated);
        assert!(
            warned.contains(&format!("warning: key {new} has been on standby for "))
                && warned.contains("s only; verifiers that cache the key set"),
            "a young key is activated with a warning: {warned}"
        );
        let start = Instant::now();
        let signed_new = loop {
            let token = login().await;
            if kid_of(&token) == new {
                break token;
            }
            assert!(
                start.elapsed() < Duration::from_secs(1),
                "still signing with {old}"
            );
        };
        app.me(&signed_new).await.ok();
        // Nobody is logged out: the old key is retired, still published,
        // and its tokens still verify.
        app.me(&signup.access_token).await.ok();
        assert_eq!(
            kids(&jwks(app, Encoding::Json).await),
            [new.clone(), old.clone()]
        );

        // The list: ids, states and times, never key material.
        let listed = keys(app, &["list", "--json"]).await;
        let listed: Vec<Value> = stdout(&listed)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let states: Vec<(&str, &str)> = listed
            .iter()
            .map(|k| (k["kid"].as_str().unwrap(), k["state"].as_str().unwrap()))
            .collect();
        assert_eq!(
            states,
            [(new.as_str(), "active"), (old.as_str(), "retired")]
        );
        for key in &listed {
            let fields: Vec<&str> = key
                .as_object()
                .unwrap()
                .keys()
                .map(String::as_str)
                .collect();
            assert_eq!(
                fields,
                [
                    "activated_at",
                    "created_at",
                    "kid",
                    "retired_at",
                    "revoked_at",
                    "state"
                ]
            );
        }
        let table = stdout(&keys(app, &["list"]).await);
        assert!(table.starts_with("KID "), "{table}");
        assert!(
            table
                .lines()
                .any(|l| l.split_whitespace().take(2).eq([old.as_str(), "retired"])),
            "{table}"
        );
        let public: Vec<Vec<u8>> = sqlx::query_scalar("SELECT public_key FROM signing_keys")
            .fetch_all(app.db.pool())
            .await
            .unwrap();
        for key in public {
            for shown in [URL_SAFE_NO_PAD.encode(&key), STANDARD.encode(&key)] {
                assert!(!table.contains(&shown[..16]), "key material in the list");
            }
        }
        // The retired key's private half is gone.
        let kept: Option<Vec<u8>> =
            sqlx::query_scalar("SELECT sealed_private_key FROM signing_keys WHERE kid = $1")
                .bind(&old)
                .fetch_one(app.db.pool())
                .await
                .unwrap();
        assert_eq!(kept, None);

        // Moves the states do not allow are invalid_state, and change nothing.
        for (args, why) in [
            (vec!["retire", new.as_str()], "no standby key can take over"),
            (vec!["revoke", new.as_str()], "no standby key can take over"),
            (
                vec!["activate", old.as_str()],
                "only a standby key can be activated",
            ),
            (
                vec!["retire", old.as_str()],
                "only the active key can be retired",
            ),
        ] {
            let refused = keys(app, &args).await;
            assert_eq!(refused.status.code(), Some(1), "{args:?}");
            let said = stderr(&refused);
            assert!(
                said.contains("invalid_state") && said.contains(why),
                "{args:?}: {said}"
            );
        }
        let unknown = keys(app, &["revoke", "no-such-key"]).await;
        assert_eq!(unknown.status.code(), Some(1));
        assert!(stderr(&unknown).contains("no signing key \"no-such-key\""));
        assert_eq!(kid_of(&login().await), new);

        // A standby key sealed under another key-encryption key would fail
        // every login once it signs: it is refused before it can.
        let elsewhere = olympus_auth::keys::Kek::parse(&STANDARD.encode([9u8; 32])).unwrap();
        let foreign = olympus_auth::keys::add(app.db.pool(), &elsewhere, chrono::Utc::now())
            .await
            .unwrap();
        for args in [
            vec!["activate", foreign.as_str()],
            vec!["retire", new.as_str()],
        ] {
            let refused = keys(app, &args).await;
            assert_eq!(refused.status.code(), Some(1), "{args:?}");
            assert!(
                stderr(&refused).contains("does not open with this key-encryption key"),
                "{args:?}: {}",
                stderr(&refused)
            );
        }
        assert_eq!(kid_of(&login().await), new);
        assert!(keys(app, &["revoke", &foreign]).await.status.success());
    })
    .await;
}

/// Two `serve` processes answer bearer requests (tenant.get is answered by
/// both in turn); a key revoked by an operator is refused by both within a
/// second, tokens they remember included, and the standby key signs.
#[tokio::test]
async fn a_revoked_keys_tokens_are_refused_within_a_second_by_every_process() {
    with_app_opts(Options::without_workers(), async |app| {
        let mut first = app
            .serve_process(OLYMPUS, &["--workers", "auth,tenant"])
            .await;
        let mut second = app
            .serve_process(OLYMPUS, &["--workers", "tenant,commerce"])
            .await;
        let signup = app.signup(Encoding::Json).await;
        let token = &signup.access_token;
        let old = kid_of(token);
        // Both processes verify it, and remember it.
        for _ in 0..8 {
            app.get_tenant(token).await.ok();
        }
        app.list_products(token).await.ok();
        let standby = add_key(app).await;
        published_within_a_second(app, &[&standby, &old]).await;

        let revoked = keys(app, &["revoke", &old]).await;
        assert!(revoked.status.success(), "{}", stderr(&revoked));
        assert_eq!(
            stdout(&revoked),
            format!("{old}: active -> revoked\n{standby}: standby -> active\n")
        );
        let limit = Duration::from_secs(1);
        let took = app.me(token).refused_within(limit).await;
        for _ in 0..8 {
            app.get_tenant(token).refused_within(limit).await;
        }
        app.list_products(token).refused_within(limit).await;
        assert_eq!(
            kids(&jwks(app, Encoding::Json).await),
            std::slice::from_ref(&standby)
        );

        // The standby key signs now, and both processes take its tokens.
        let login = app
            .login(&signup.slug, &signup.email, &signup.password)
            .await
            .ok();
        let fresh = login["tokens"]["access_token"].as_str().unwrap();
        assert_eq!(kid_of(fresh), standby);
        for _ in 0..8 {
            app.get_tenant(fresh).await.ok();
        }
        eprintln!("the revoked key's token refused by auth.me after {took:?}");
        assert!(first.terminate().await.success());
        assert!(second.terminate().await.success());
    })
    .await;
}

#[tokio::test]
async fn no_private_key_is_in_plain_text_anywhere_in_the_database() {
    with_app(async |app| {
        let signup = app.signup(Encoding::Json).await;
        let (first, first_key) = app.signing_key().await;
        let standby = add_key(app).await;
        assert!(keys(app, &["activate", &standby]).await.status.success());
        let third = add_key(app).await;
        // A token of the new key, so that it is opened and used.
        let start = Instant::now();
        loop {
            let login = app
                .login(&signup.slug, &signup.email, &signup.password)
                .await
                .ok();
            if kid_of(login["tokens"]["access_token"].as_str().unwrap()) == standby {
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(1),
                "still the old key"
            );
        }
        let (_, active_key) = app.signing_key().await;
        let kek = olympus_auth::keys::Kek::parse(TEST_KEY_ENCRYPTION_KEY).unwrap();
        let third_key = olympus_auth::keys::open_stored(app.db.pool(), &kek, &third)
            .await
            .unwrap();
        let dump = tokio::process::Command::new("pg_dump")
            .args(["--data-only", "--no-owner", &app.config().database_url])
            .output()
            .await
            .expect("pg_dump");
        assert!(dump.status.success(), "{}", stderr(&dump));
        let dump = String::from_utf8_lossy(&dump.stdout).to_lowercase();
        assert!(
            dump.contains(&first.to_lowercase()),
            "the dump has the keys' rows"
        );
        let hex = |bytes: &[u8]| bytes.iter().map(|b| format!("{b:02x}")).collect::<String>();
        for (name, key) in [
            ("first", &first_key),
            ("active", &active_key),
            ("standby", &third_key),
        ] {
            // An Ed25519 PKCS#8 document (RFC 8410): 16 bytes of header,
            // the last two of which say "32 bytes follow", then the
            // private key (then, in version 2, the public key).
            let der = key.as_bytes();
            assert_eq!(der[14..16], [0x04, 0x20], "{der:02x?}");
            let seed = &der[16..48];
            for (form, text) in [
                ("hex", hex(seed)),
                ("hex", hex(der)),
                ("base64", STANDARD.encode(seed).to_lowercase()),
                ("base64", STANDARD.encode(der).to_lowercase()),
            ] {
                let found = dump.lines().find(|l| l.contains(&text));
                assert!(
                    found.is_none(),
                    "the {name} private key in {form}: {found:?}"
                );
            }
        }
    })
    .await;
}

/// `serve` on this test's database and prefix, with `kek`, that should
/// not start: its exit status and log.
async fn serve_refusing(app: &TestApp, args: &[&str], kek: &str) -> (bool, String) {
    crate::processes::serve_refusing(app, &app.database_url, args, kek).await
}

#[tokio::test]
async fn only_processes_running_auth_need_the_key_encryption_key() {
    with_app_opts(Options::without_workers(), async |app| {
        let mut auth = app
            .serve_process(OLYMPUS, &["--workers", "auth,tenant"])
            .await;
        // Without the key-encryption key (empty is unset), a commerce-only
        // process starts, verifies tokens from the published keys, and
        // never opens a private key.
        let mut commerce = app
            .serve_process_with(
                OLYMPUS,
                &["--workers", "commerce"],
                &[("OLYMPUS_KEY_ENCRYPTION_KEY", ""), ("OLYMPUS_LOG", "debug")],
            )
            .await;
        let signup = app.signup(Encoding::Json).await;
        let product = app.new_product(&signup, "KEY-1", 500, 3).await;
        assert_eq!(product["sku"], "KEY-1");
        let (kid, _) = app.signing_key().await;
        let forged = forged_under(&kid, &signup.access_token);
        app.list_products(&forged).await.err(401, "unauthenticated");
        assert!(commerce.terminate().await.success());
        let log = commerce.log.join("\n");
        assert!(log.contains("olympus ready"), "{log}");
        for opened in [
            "signing with key",
            "made the first signing key",
            "key-encryption key",
        ] {
            assert!(
                !log.contains(opened),
                "a commerce-only process: {opened}\n{log}"
            );
        }
        auth.wait_for_line("signing with key", Duration::from_secs(5))
            .await;

        // A process with the auth worker does not start without it, nor
        // with another one than the keys were sealed under.
        let (started, log) = serve_refusing(app, &["--workers", "auth"], "").await;
        assert!(!started);
        assert!(
            log.contains("OLYMPUS_KEY_ENCRYPTION_KEY is not set"),
            "{log}"
        );
        assert!(log.contains("openssl rand -base64 32"), "{log}");
        let other = STANDARD.encode([3u8; 32]);
        let (started, log) = serve_refusing(app, &["--workers", "auth"], &other).await;
        assert!(!started);
        assert!(
            log.contains("does not open with this key-encryption key"),
            "{log}"
        );
        let (started, log) = serve_refusing(app, &["--workers", "auth"], "c2hvcnQ=").await;
        assert!(!started);
        assert!(log.contains("it is 5 bytes, not 32"), "{log}");
        assert!(auth.terminate().await.success());
    })
    .await;
}

#[tokio::test]
async fn revision_2_hs256_tokens_verify_only_inside_the_migration_window() {
    let secret = [11u8; 32];
    let options = Options {
        legacy_hs256_keys: Some(format!("r2:{}", STANDARD.encode(secret))),
        ..Options::default()
    };
    with_app_opts(options, async |app| {
        let signup = app.signup(Encoding::Json).await;
        let upgraded: chrono::DateTime<chrono::Utc> =
            sqlx::query_scalar("SELECT min(created_at) FROM signing_keys")
                .fetch_one(app.db.pool())
                .await
                .unwrap();
        // Revision 2's claims: no amr, no auth_time.
        let mut claims = part(&signup.access_token, 1);
        let object = claims.as_object_mut().unwrap();
        object.remove("amr");
        object.remove("auth_time");
        let mut header = Header::new(Algorithm::HS256);
        header.typ = Some("at+jwt".to_owned());
        header.kid = Some("r2".to_owned());
        let sign_until = |iat: i64, exp: i64, secret: &[u8]| {
            let mut claims = claims.clone();
            claims["iat"] = json!(iat);
            claims["nbf"] = json!(iat);
            claims["exp"] = json!(exp);
            jsonwebtoken::encode(&header, &claims, &EncodingKey::from_secret(secret).unwrap())
                .unwrap()
        };
        // Revision 2's tokens lived an hour (the test's lifetime too).
        let sign = |iat: i64, secret: &[u8]| sign_until(iat, iat + 3600, secret);
        let before = sign(upgraded.timestamp() - 60, &secret);
        let me = app.me(&before).await.ok();
        assert_eq!(me["user"]["id"], signup.user_id.as_str());
        let introspected = app.introspect(&before).await.ok();
        assert_eq!(introspected["active"], true);
        assert_eq!(introspected["amr"], json!(["pwd"]));
        // Issued after the upgrade: nothing signs HS256 any more, so forged.
        app.me(&sign(upgraded.timestamp() + 1, &secret))
            .await
            .err(401, "unauthenticated");
        app.me(&sign(upgraded.timestamp() - 60, &[12u8; 32]))
            .await
            .err(401, "unauthenticated");
        // Dated before the upgrade with an expiry past the window: forged.
        let far = sign_until(
            upgraded.timestamp() - 60,
            upgraded.timestamp() + 36_000,
            &secret,
        );
        app.me(&far).await.err(401, "unauthenticated");
        // The new tokens are EdDSA all the same.
        assert_eq!(part(&signup.access_token, 0)["alg"], "EdDSA");
    })
    .await;
}
