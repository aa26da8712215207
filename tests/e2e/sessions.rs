//! Refresh tokens rotate, exactly once under concurrency; logout revokes.

use olympus_tests::{with_app, Encoding};

#[tokio::test]
async fn of_concurrent_refreshes_with_one_token_exactly_one_succeeds() {
    with_app(async |app| {
        let signup = app.signup(Encoding::MsgPack).await;
        let refresh = |token: &str| app.refresh(token).encoded(Encoding::MsgPack);
        let attempts = (0..12).map(|_| refresh(&signup.refresh_token).send());
        let replies = futures::future::join_all(attempts).await;
        let ok: Vec<_> = replies.iter().filter(|r| r.status() == 200).collect();
        assert_eq!(ok.len(), 1, "exactly one refresh wins");
        for reply in replies.iter().filter(|r| r.status() != 200) {
            reply.err(401, "invalid_token");
        }
        // The winner's token works, once.
        let next = ok[0].body()["tokens"]["refresh_token"]
            .as_str()
            .unwrap()
            .to_owned();
        refresh(&next).await.ok();
        refresh(&next).await.err(401, "invalid_token");
    })
    .await;
}

#[tokio::test]
async fn a_rotated_token_reused_after_the_grace_period_revokes_the_session() {
    with_app(async |app| {
        let signup = app.signup(Encoding::Json).await;
        let refresh = async |token: &str| app.refresh(token).await;
        // Rotate twice: A -> B -> C. A is two rotations old.
        let b = refresh(&signup.refresh_token).await.ok();
        let b_token = b["tokens"]["refresh_token"].as_str().unwrap().to_owned();
        let c = refresh(&b_token).await.ok();
        let c_token = c["tokens"]["refresh_token"].as_str().unwrap().to_owned();
        let access = c["tokens"]["access_token"].as_str().unwrap().to_owned();
        // Within the grace period a replay is refused but harmless.
        refresh(&signup.refresh_token)
            .await
            .err(401, "invalid_token");
        app.me(&access).await.ok();
        // After it, replaying any rotated token revokes the whole session.
        app.clock.advance(std::time::Duration::from_secs(6));
        refresh(&signup.refresh_token)
            .await
            .err(401, "invalid_token");
        app.me(&access).await.err(401, "unauthenticated");
        refresh(&c_token).await.err(401, "invalid_token");
        let revoked = app
            .events(Some(&signup.tenant_id), Some("session.revoked"), 1)
            .await;
        assert_eq!(revoked.len(), 1);
        assert_eq!(revoked[0].body["data"]["reason"], "refresh_token_reused");
    })
    .await;
}

#[tokio::test]
async fn logout_revokes_and_bad_refresh_tokens_are_invalid_token() {
    with_app(async |app| {
        let signup = app.signup(Encoding::Json).await;
        for enc in Encoding::BOTH {
            for token in ["", "garbage", "AAAA", &"A".repeat(64)] {
                app.refresh(token)
                    .encoded(enc)
                    .await
                    .err(401, "invalid_token");
                app.logout(token)
                    .encoded(enc)
                    .await
                    .err(401, "invalid_token");
            }
        }
        app.logout(&signup.refresh_token).await.ok();
        // Logging out twice, or refreshing a logged-out session, fails.
        app.logout(&signup.refresh_token)
            .await
            .err(401, "invalid_token");
        app.refresh(&signup.refresh_token)
            .await
            .err(401, "invalid_token");
        app.me(&signup.access_token)
            .await
            .err(401, "unauthenticated");
        app.get_tenant(&signup.access_token)
            .await
            .err(401, "unauthenticated");
        let revoked: bool = sqlx::query_scalar(
            "SELECT revoked_at IS NOT NULL FROM sessions WHERE user_id = $1::uuid",
        )
        .bind(&signup.user_id)
        .fetch_one(app.db.pool())
        .await
        .unwrap();
        assert!(revoked);
    })
    .await;
}

/// A refresh token's bytes (base64url, no padding): tenant (16), session
/// (16), generation (8, big-endian), secret (32), MAC (16)
/// (workers/auth/src/sessions/token.rs).
fn token_bytes(token: &str) -> Vec<u8> {
    use base64::Engine;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .unwrap();
    assert_eq!(
        bytes.len(),
        88,
        "a refresh token of the form naming its session"
    );
    bytes
}

fn token_of(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Issue 34: refresh tokens name their session, and the reuse of a
/// rotated-away one is still detected however many rotations ago it was
/// (an earlier attempt kept the last 8 rotated hashes: a thief refreshing
/// 9 times pushed the owner's token out of them).
#[tokio::test]
async fn a_token_rotated_away_ten_rotations_ago_still_revokes_its_session() {
    with_app(async |app| {
        let signup = app.signup(Encoding::MsgPack).await;
        let first = token_bytes(&signup.refresh_token);
        assert_eq!(&first[32..40], &[0; 8], "a login's token is generation 0");
        let mut current = signup.refresh_token.clone();
        let mut access = String::new();
        for generation in 1..=10u64 {
            let next = app.refresh(&current).await.ok();
            current = next["tokens"]["refresh_token"].as_str().unwrap().to_owned();
            access = next["tokens"]["access_token"].as_str().unwrap().to_owned();
            let bytes = token_bytes(&current);
            assert_eq!(bytes[..32], first[..32], "the same tenant and session");
            assert_eq!(bytes[32..40], generation.to_be_bytes());
        }
        app.clock.advance(std::time::Duration::from_secs(6));
        app.refresh(&signup.refresh_token)
            .await
            .err(401, "invalid_token");
        app.me(&access).await.err(401, "unauthenticated");
        app.refresh(&current).await.err(401, "invalid_token");
        let revoked = app
            .events(Some(&signup.tenant_id), Some("session.revoked"), 1)
            .await;
        assert_eq!(revoked[0].body["data"]["reason"], "refresh_token_reused");
    })
    .await;
}

/// A session's id is no secret (events and the audit log show it): a
/// token naming it that the server did not issue (its MAC is not the
/// server's) revokes nothing, whatever generation it claims; and a genuine
/// token with one bit changed is no longer genuine.
#[tokio::test]
async fn a_token_naming_a_session_that_the_server_did_not_issue_revokes_nothing() {
    with_app(async |app| {
        let signup = app.signup(Encoding::Json).await;
        let first = token_bytes(&signup.refresh_token);
        let next = app.refresh(&signup.refresh_token).await.ok();
        let current = next["tokens"]["refresh_token"].as_str().unwrap().to_owned();
        let access = next["tokens"]["access_token"].as_str().unwrap().to_owned();
        app.clock.advance(std::time::Duration::from_secs(6));
        let random = || *uuid::Uuid::new_v4().as_bytes();
        let mut forged = Vec::new();
        for generation in [0u64, 1, 2, u64::from(u32::MAX), i64::MAX as u64] {
            let mut bytes = first[..32].to_vec();
            bytes.extend(generation.to_be_bytes());
            bytes.extend(random());
            bytes.extend(random());
            bytes.extend(random());
            forged.push(token_of(&bytes));
        }
        // The first token, rotated away, with its MAC changed by one bit.
        let mut flipped = first.clone();
        flipped[87] ^= 1;
        forged.push(token_of(&flipped));
        for token in &forged {
            app.refresh(token).await.err(401, "invalid_token");
            app.logout(token).await.err(401, "invalid_token");
        }
        app.me(&access).await.ok();
        let revoked: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM sessions WHERE user_id = $1::uuid AND revoked_at IS NOT NULL",
        )
        .bind(&signup.user_id)
        .fetch_one(app.db.pool())
        .await
        .unwrap();
        assert_eq!(revoked, 0);
        // The genuine one, unchanged, still refreshes.
        app.refresh(&current).await.ok();
    })
    .await;
}

/// A refresh updates the session's row in place: a heap-only update (no
/// index entry; the row's new version on its page marked so), and no row
/// kept in `rotated_refresh_tokens`.
#[tokio::test]
async fn a_refresh_updates_its_session_in_place() {
    with_app(async |app| {
        let signup = app.signup(Encoding::Json).await;
        let mut current = signup.refresh_token.clone();
        for _ in 0..3 {
            let next = app.refresh(&current).await.ok();
            current = next["tokens"]["refresh_token"].as_str().unwrap().to_owned();
        }
        let pool = app.db.pool();
        sqlx::query("CREATE EXTENSION IF NOT EXISTS pageinspect")
            .execute(pool)
            .await
            .unwrap();
        let (page, item, generation, hash_is_null): (i64, i32, i64, bool) = sqlx::query_as(
            "SELECT (ctid::text::point)[0]::bigint, (ctid::text::point)[1]::int,
                    refresh_generation, refresh_hash IS NULL
               FROM sessions WHERE user_id = $1::uuid",
        )
        .bind(&signup.user_id)
        .fetch_one(pool)
        .await
        .unwrap();
        assert_eq!((generation, hash_is_null), (3, true));
        let infomask2: i32 = sqlx::query_scalar(
            "SELECT t_infomask2 FROM heap_page_items(get_raw_page('sessions', $1::int))
              WHERE lp = $2",
        )
        .bind(page)
        .bind(item)
        .fetch_one(pool)
        .await
        .unwrap();
        const HEAP_ONLY_TUPLE: i32 = 0x8000;
        assert_ne!(infomask2 & HEAP_ONLY_TUPLE, 0, "a heap-only version");
        let kept: i64 = sqlx::query_scalar("SELECT count(*) FROM rotated_refresh_tokens")
            .fetch_one(pool)
            .await
            .unwrap();
        assert_eq!(kept, 0);
    })
    .await;
}

/// Sessions opened before migration 0036 have opaque refresh tokens (a
/// tenant id and 32 random bytes, stored as a unique hash): they keep
/// refreshing, in their own form, and the reuse of one rotated away still
/// revokes the session; logout takes them too.
#[tokio::test]
async fn a_session_of_the_former_form_keeps_refreshing_until_it_expires() {
    with_app(async |app| {
        let signup = app.signup(Encoding::Json).await;
        let tenant: uuid::Uuid = signup.tenant_id.parse().unwrap();
        let former = || {
            let mut bytes = tenant.as_bytes().to_vec();
            bytes.extend(uuid::Uuid::new_v4().as_bytes());
            bytes.extend(uuid::Uuid::new_v4().as_bytes());
            token_of(&bytes)
        };
        let open = async |token: &str| {
            sqlx::query(
                "INSERT INTO sessions (id, tenant_id, user_id, refresh_hash, expires_at)
                 VALUES ($1, $2, $3::uuid, sha256(convert_to($4, 'UTF8')), now() + interval '1 day')",
            )
            .bind(uuid::Uuid::now_v7())
            .bind(tenant)
            .bind(&signup.user_id)
            .bind(token)
            .execute(app.db.pool())
            .await
            .unwrap();
        };
        let old = former();
        open(&old).await;
        let next = app.refresh(&old).await.ok();
        let rotated = next["tokens"]["refresh_token"].as_str().unwrap().to_owned();
        assert_eq!(rotated.len(), 64, "still of the former form");
        let access = next["tokens"]["access_token"].as_str().unwrap().to_owned();
        app.me(&access).await.ok();
        app.clock.advance(std::time::Duration::from_secs(6));
        app.refresh(&old).await.err(401, "invalid_token");
        app.me(&access).await.err(401, "unauthenticated");
        app.refresh(&rotated).await.err(401, "invalid_token");
        // Logout of a session of the former form.
        let another = former();
        open(&another).await;
        app.logout(&another).await.ok();
        app.refresh(&another).await.err(401, "invalid_token");
    })
    .await;
}

/// The grace period runs from each token's own rotation (contract §4): a
/// token rotated away 6 s ago revokes its session even when a later one
/// was rotated away 2 s ago, and that later one, presented again, does
/// not.
#[tokio::test]
async fn the_grace_period_runs_from_each_tokens_own_rotation() {
    with_app(async |app| {
        let signup = app.signup(Encoding::Json).await;
        let b = app.refresh(&signup.refresh_token).await.ok();
        let b = b["tokens"]["refresh_token"].as_str().unwrap().to_owned();
        app.clock.advance(std::time::Duration::from_secs(4));
        let c = app.refresh(&b).await.ok();
        let access = c["tokens"]["access_token"].as_str().unwrap().to_owned();
        app.clock.advance(std::time::Duration::from_secs(2));
        app.refresh(&b).await.err(401, "invalid_token");
        app.me(&access).await.ok();
        app.refresh(&signup.refresh_token)
            .await
            .err(401, "invalid_token");
        app.me(&access).await.err(401, "unauthenticated");
    })
    .await;
}
