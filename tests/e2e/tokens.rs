//! Bearer operations refuse every token that is not exactly right, with
//! `unauthenticated`, and never see another tenant.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use olympus_tests::{with_app, with_app_opts, Encoding, Options, TestApp};
use serde_json::{json, Value};

/// The claims of a valid token, as JSON, to be spoiled by each case.
fn claims_of(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

fn test_secret() -> Vec<u8> {
    let (_, secret) = olympus_tests::app::TEST_JWT_KEYS.split_once(':').unwrap();
    STANDARD.decode(secret).unwrap()
}

fn sign(header: Header, claims: &Value, secret: &[u8]) -> String {
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_secret(secret).unwrap()).unwrap()
}

fn header(alg: Algorithm, typ: Option<&str>, kid: Option<&str>) -> Header {
    let mut header = Header::new(alg);
    header.typ = typ.map(str::to_owned);
    header.kid = kid.map(str::to_owned);
    header
}

async fn assert_refused(app: &TestApp, token: &str, case: &str) {
    for call in [app.me(token), app.get_tenant(token)] {
        let op = call.op();
        let reply = call.encoded(Encoding::MsgPack).await;
        assert_eq!(reply.status(), 401, "{case} on {op}: {}", reply.body());
        reply.err(401, "unauthenticated");
    }
}

#[tokio::test]
async fn missing_and_malformed_authorization_is_unauthenticated() {
    with_app(async |app| {
        let signup = app.signup(Encoding::Json).await;
        for op in ["auth.v1.me", "tenant.v1.get"] {
            app.call(Encoding::Json, op, None, json!({}))
                .await
                .err(401, "unauthenticated");
        }
        for value in [
            "".to_owned(),
            "Bearer".to_owned(),
            "Bearer ".to_owned(),
            format!("Basic {}", signup.access_token),
            format!("Token {}", signup.access_token),
            "Bearer not.a.jwt".to_owned(),
        ] {
            let mut headers = async_nats::HeaderMap::new();
            headers.insert("Authorization", value.as_str());
            app.raw("auth.v1.me", headers, Vec::new())
                .await
                .err(401, "unauthenticated");
        }
        // Case-insensitive scheme, per RFC 7235.
        let mut headers = async_nats::HeaderMap::new();
        headers.insert("Authorization", format!("bearer {}", signup.access_token));
        app.raw("auth.v1.me", headers, Vec::new()).await.ok();
    })
    .await;
}

#[tokio::test]
async fn forged_none_tampered_expired_and_foreign_tokens_are_refused() {
    with_app(async |app| {
        let signup = app.signup(Encoding::MsgPack).await;
        let good = &signup.access_token;
        let claims = claims_of(good);
        let secret = test_secret();
        let now = chrono::Utc::now().timestamp();

        // Control: re-signing the same claims the same way is accepted, so
        // each refusal below is due to the one thing changed.
        let control = sign(
            header(Algorithm::HS256, Some("at+jwt"), Some("e2e")),
            &claims,
            &secret,
        );
        app.me(&control).encoded(Encoding::MsgPack).await.ok();

        let forged = sign(
            header(Algorithm::HS256, Some("at+jwt"), Some("e2e")),
            &claims,
            b"an-attacker-secret-of-32-bytes!!",
        );
        assert_refused(app, &forged, "wrong key").await;

        let unknown_kid = sign(
            header(Algorithm::HS256, Some("at+jwt"), Some("k9")),
            &claims,
            &secret,
        );
        assert_refused(app, &unknown_kid, "unknown kid").await;

        let no_kid = sign(
            header(Algorithm::HS256, Some("at+jwt"), None),
            &claims,
            &secret,
        );
        assert_refused(app, &no_kid, "no kid").await;

        let none = format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"at+jwt","kid":"e2e"}"#),
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap())
        );
        assert_refused(app, &none, "alg none").await;

        let hs512 = sign(
            header(Algorithm::HS512, Some("at+jwt"), Some("e2e")),
            &claims,
            &secret,
        );
        assert_refused(app, &hs512, "HS512").await;

        for typ in [Some("JWT"), None, Some("rt+jwt")] {
            let token = sign(header(Algorithm::HS256, typ, Some("e2e")), &claims, &secret);
            assert_refused(app, &token, &format!("typ {typ:?}")).await;
        }

        // Tampered: the payload says admin, the signature is the old one.
        let mut tampered_claims = claims.clone();
        tampered_claims["role"] = json!("admin");
        let parts: Vec<&str> = good.split('.').collect();
        let tampered = format!(
            "{}.{}.{}",
            parts[0],
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(&tampered_claims).unwrap()),
            parts[2]
        );
        assert_refused(app, &tampered, "tampered payload").await;
        let mut flipped = good.clone();
        let last = flipped.pop().unwrap();
        flipped.push(if last == 'A' { 'B' } else { 'A' });
        assert_refused(app, &flipped, "flipped signature").await;

        let mut expired = claims.clone();
        expired["iat"] = json!(now - 7200);
        expired["nbf"] = json!(now - 7200);
        expired["exp"] = json!(now - 3600);
        let expired = sign(
            header(Algorithm::HS256, Some("at+jwt"), Some("e2e")),
            &expired,
            &secret,
        );
        assert_refused(app, &expired, "expired").await;

        let mut not_yet = claims.clone();
        not_yet["nbf"] = json!(now + 3600);
        let not_yet = sign(
            header(Algorithm::HS256, Some("at+jwt"), Some("e2e")),
            &not_yet,
            &secret,
        );
        assert_refused(app, &not_yet, "not yet valid").await;

        for (claim, value) in [("iss", "evil"), ("aud", "another-api")] {
            let mut wrong = claims.clone();
            wrong[claim] = json!(value);
            let token = sign(
                header(Algorithm::HS256, Some("at+jwt"), Some("e2e")),
                &wrong,
                &secret,
            );
            assert_refused(app, &token, claim).await;
        }

        // (A well-signed token naming a session that never existed can
        // only be made with the signing key: the signature is the proof.
        // Revoked sessions are refused: see revocation.rs.)
    })
    .await;
}

#[tokio::test]
async fn another_tenants_id_is_not_found() {
    with_app(async |app| {
        let ours = app.signup(Encoding::Json).await;
        let theirs = app.signup(Encoding::Json).await;
        for enc in Encoding::BOTH {
            let get = |id: &str| {
                app.get_tenant(&ours.access_token)
                    .with("id", id)
                    .encoded(enc)
            };
            let err = get(&theirs.tenant_id).await.err(404, "not_found");
            assert!(!err.to_string().contains(&theirs.slug));
            let own = get(&ours.tenant_id).await.ok();
            assert_eq!(own["tenant"]["slug"], ours.slug);
            let err = get("not-a-uuid").await.err(400, "bad_request");
            assert_eq!(err["details"]["field"], "id");
        }
    })
    .await;
}

#[tokio::test]
async fn database_keys_are_shared_by_every_process_on_the_database() {
    let options = Options {
        jwt_keys: None,
        ..Options::default()
    };
    with_app_opts(options, async |app| {
        let signup = app.signup(Encoding::Json).await;
        // A second process on the same database verifies the first one's tokens.
        let second = olympus_runtime::App::new(app.config(), app.db.clone(), app.nats.clone())
            .await
            .unwrap();
        let claims = second
            .tokens()
            .verify(&signup.access_token, chrono::Utc::now())
            .unwrap();
        assert_eq!(claims.sub.to_string(), signup.user_id);
        let kids: i64 = sqlx::query_scalar("SELECT count(*) FROM signing_keys")
            .fetch_one(app.db.pool())
            .await
            .unwrap();
        assert_eq!(kids, 1);
    })
    .await;
}

#[tokio::test]
async fn processes_starting_together_agree_on_one_development_key() {
    with_app(async |app| {
        sqlx::query("DELETE FROM signing_keys")
            .execute(app.db.pool())
            .await
            .unwrap();
        let starts = (0..6).map(|_| olympus_runtime::tokens::database_keys(&app.db));
        let rings = futures::future::join_all(starts).await;
        let kids: Vec<String> = rings
            .into_iter()
            .map(|ring| {
                let ring = ring.unwrap();
                assert_eq!(ring.len(), 1);
                ring[0].kid.clone()
            })
            .collect();
        assert!(kids.iter().all(|k| *k == kids[0]), "{kids:?}");
    })
    .await;
}

#[tokio::test]
async fn access_tokens_and_sessions_expire_by_the_apps_clock() {
    with_app(async |app| {
        let signup = app.signup(Encoding::Json).await;
        let me = async || app.me(&signup.access_token).await;
        me().await.ok();
        // An hour (the access token's lifetime) and the leeway later.
        app.clock.advance(std::time::Duration::from_secs(3600 + 6));
        me().await.err(401, "unauthenticated");
        // The session lives 30 days: its refresh token still works, then not.
        let refreshed = app.refresh(&signup.refresh_token).await.ok();
        let token = refreshed["tokens"]["refresh_token"].as_str().unwrap();
        app.clock
            .advance(std::time::Duration::from_secs(30 * 24 * 3600));
        app.refresh(token).await.err(401, "invalid_token");
    })
    .await;
}
