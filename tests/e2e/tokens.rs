//! Bearer operations refuse every token that is not exactly right, with
//! `unauthenticated`, and never see another tenant.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use olympus_tests::jwt::{header, stranger};
use olympus_tests::{with_app, Encoding, TestApp};
use serde_json::{json, Value};

/// The claims of a valid token, as JSON, to be spoiled by each case.
fn claims_of(token: &str) -> Value {
    olympus_tests::jwt::part(token, 1)
}

fn sign(header: Header, claims: &Value, key: &EncodingKey) -> String {
    jsonwebtoken::encode(&header, claims, key).unwrap()
}

fn hs(secret: &[u8]) -> EncodingKey {
    EncodingKey::from_secret(secret).unwrap()
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
        let (kid, key) = app.signing_key().await;
        let kid = kid.as_str();
        let now = chrono::Utc::now().timestamp();
        let ed = |typ, kid| header(Algorithm::EdDSA, typ, kid);

        // Control: re-signing the same claims the same way is accepted, so
        // each refusal below is due to the one thing changed.
        let control = sign(ed(Some("at+jwt"), Some(kid)), &claims, &key);
        app.me(&control).encoded(Encoding::MsgPack).await.ok();
        let control_header = jsonwebtoken::decode_header(good).unwrap();
        assert_eq!(control_header.alg, Algorithm::EdDSA);
        assert_eq!(control_header.kid.as_deref(), Some(kid));

        let forged = sign(ed(Some("at+jwt"), Some(kid)), &claims, &stranger());
        assert_refused(app, &forged, "another key under the published kid").await;

        let unknown_kid = sign(ed(Some("at+jwt"), Some("k9")), &claims, &key);
        assert_refused(app, &unknown_kid, "unknown kid").await;

        let no_kid = sign(ed(Some("at+jwt"), None), &claims, &key);
        assert_refused(app, &no_kid, "no kid").await;

        let none = format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(format!(r#"{{"alg":"none","typ":"at+jwt","kid":"{kid}"}}"#)),
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap())
        );
        assert_refused(app, &none, "alg none").await;

        // HS256, as revision 2 signed, with no migration window configured:
        // refused whatever the secret (here: revision 2's test secret, and
        // the public key's bytes, the classic algorithm confusion).
        let public: String = sqlx::query_scalar(
            "SELECT encode(public_key, 'base64') FROM signing_keys WHERE kid = $1",
        )
        .bind(kid)
        .fetch_one(app.db.pool())
        .await
        .unwrap();
        for secret in [
            STANDARD
                .decode("b2x5bXB1cy1lMmUtdGVzdC1zaWduaW5nLWtleS0wMDA=")
                .unwrap(),
            STANDARD.decode(&public).unwrap(),
        ] {
            let token = sign(
                header(Algorithm::HS256, Some("at+jwt"), Some(kid)),
                &claims,
                &hs(&secret),
            );
            assert_refused(app, &token, "HS256").await;
        }

        for typ in [Some("JWT"), None, Some("rt+jwt")] {
            let token = sign(ed(typ, Some(kid)), &claims, &key);
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
        let expired = sign(ed(Some("at+jwt"), Some(kid)), &expired, &key);
        assert_refused(app, &expired, "expired").await;

        let mut not_yet = claims.clone();
        not_yet["nbf"] = json!(now + 3600);
        let not_yet = sign(ed(Some("at+jwt"), Some(kid)), &not_yet, &key);
        assert_refused(app, &not_yet, "not yet valid").await;

        for (claim, value) in [("iss", "evil"), ("aud", "another-api")] {
            let mut wrong = claims.clone();
            wrong[claim] = json!(value);
            let token = sign(ed(Some("at+jwt"), Some(kid)), &wrong, &key);
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
async fn every_process_on_the_database_verifies_with_the_published_keys() {
    with_app(async |app| {
        let signup = app.signup(Encoding::Json).await;
        // A second process on the same database (running no auth worker)
        // verifies the first one's tokens once it has read the keys.
        let second = olympus_runtime::App::new(app.config(), app.db.clone(), app.nats.clone())
            .await
            .unwrap();
        assert!(second
            .tokens()
            .verify(&signup.access_token, chrono::Utc::now())
            .is_err());
        second
            .revocations()
            .sync(
                &olympus::revocation_sources(),
                (app.db.pool(), second.tokens()),
                chrono::Utc::now(),
            )
            .await
            .unwrap();
        let claims = second
            .tokens()
            .verify(&signup.access_token, chrono::Utc::now())
            .unwrap();
        assert_eq!(claims.sub.to_string(), signup.user_id);
        let keys: i64 = sqlx::query_scalar("SELECT count(*) FROM signing_keys")
            .fetch_one(app.db.pool())
            .await
            .unwrap();
        assert_eq!(keys, 1);
    })
    .await;
}

#[tokio::test]
async fn processes_starting_together_make_one_first_key() {
    with_app(async |app| {
        sqlx::query("DELETE FROM signing_keys")
            .execute(app.db.pool())
            .await
            .unwrap();
        let config = app.config();
        let kek =
            olympus_auth::keys::Kek::parse(olympus_tests::app::TEST_KEY_ENCRYPTION_KEY).unwrap();
        let starts = (0..6).map(|_| {
            olympus_auth::keys::ensure_active(app.db.pool(), &kek, &config, chrono::Utc::now())
        });
        let kids: Vec<String> = futures::future::join_all(starts)
            .await
            .into_iter()
            .map(Result::unwrap)
            .collect();
        assert!(kids.iter().all(|k| *k == kids[0]), "{kids:?}");
        let keys: Vec<(String, String)> = sqlx::query_as("SELECT kid, state FROM signing_keys")
            .fetch_all(app.db.pool())
            .await
            .unwrap();
        assert_eq!(keys, [(kids[0].clone(), "active".to_owned())]);
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
