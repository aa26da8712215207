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

/// Issue 34: a refresh token names its session, so a rotation finds the
/// row by primary key and rewrites it in place (a heap-only update: no
/// index touched, nothing inserted), keeping the last 8 rotated tokens'
/// hashes on the row for reuse detection. A token forged with a known
/// session id is refused and revokes nothing.
#[tokio::test]
async fn a_refresh_rewrites_only_its_session_row_in_place() {
    with_app(async |app| {
        let signup = app.signup(Encoding::Json).await;
        let mut token = signup.refresh_token.clone();
        let mut rotated = Vec::new();
        for _ in 0..10 {
            let reply = app.refresh(&token).await.ok();
            rotated.push(std::mem::replace(
                &mut token,
                reply["tokens"]["refresh_token"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            ));
        }
        assert_eq!(token.len(), 86, "tenant id, session id, 32 random bytes");
        type Row = (Option<Vec<u8>>, Option<Vec<u8>>, i32, String);
        let (indexed, digest, kept, ctid): Row = sqlx::query_as(
            "SELECT refresh_hash, refresh_digest, array_length(rotated_digests, 1), ctid::text
               FROM sessions WHERE user_id = $1::uuid",
        )
        .bind(&signup.user_id)
        .fetch_one(app.db.pool())
        .await
        .unwrap();
        assert_eq!(indexed, None, "the first rotation cleared the indexed hash");
        assert_eq!(
            digest.map(|d| d.len()),
            Some(32),
            "a SHA-256, not the token"
        );
        assert_eq!(kept, 8, "the last 8 rotated tokens");
        let history: i64 = sqlx::query_scalar("SELECT count(*) FROM rotated_refresh_tokens")
            .fetch_one(app.db.pool())
            .await
            .unwrap();
        assert_eq!(
            history, 1,
            "only the login's token, rotated from the indexed column"
        );
        // The row's current version is heap-only: the last rotation
        // touched no index.
        let (page, item) = ctid
            .trim_matches(['(', ')'])
            .split_once(',')
            .map(|(p, i)| (p.parse::<i64>().unwrap(), i.parse::<i32>().unwrap()))
            .unwrap();
        let mut conn = app.db.pool().acquire().await.unwrap();
        sqlx::query("CREATE EXTENSION IF NOT EXISTS pageinspect")
            .execute(&mut *conn)
            .await
            .unwrap();
        let heap_only: bool = sqlx::query_scalar(
            "SELECT (t_infomask2 & 32768) <> 0
               FROM heap_page_items(get_raw_page('sessions', $1::int)) WHERE lp = $2",
        )
        .bind(page)
        .bind(item)
        .fetch_one(&mut *conn)
        .await
        .unwrap();
        assert!(heap_only, "the session row was not updated in place");
        // A token naming the session, with other random bytes: refused,
        // and the session lives.
        let forged = {
            use base64::Engine as _;
            let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
            let mut bytes = engine.decode(&token).unwrap();
            bytes[40] ^= 1;
            engine.encode(bytes)
        };
        app.clock.advance(std::time::Duration::from_secs(6));
        app.refresh(&forged).await.err(401, "invalid_token");
        app.logout(&forged).await.err(401, "invalid_token");
        // Older than the last 8: refused, but no longer recognized.
        app.refresh(&rotated[0]).await.err(401, "invalid_token");
        app.refresh(&rotated[1]).await.err(401, "invalid_token");
        let next = app.refresh(&token).await.ok();
        // One of the last 8, replayed after the grace period: revoked.
        app.clock.advance(std::time::Duration::from_secs(6));
        app.refresh(&rotated[5]).await.err(401, "invalid_token");
        let access = next["tokens"]["access_token"].as_str().unwrap();
        app.me(access).await.err(401, "unauthenticated");
    })
    .await;
}

/// Refresh tokens issued before they named their session keep working
/// until they expire: found by their hash, rotated to a token that names
/// the session, recognized when replayed, and logged out.
#[tokio::test]
async fn a_refresh_token_issued_before_keeps_working() {
    with_app(async |app| {
        let signup = app.signup(Encoding::Json).await;
        let tenant: uuid::Uuid = signup.tenant_id.parse().unwrap();
        // A session as the former code opened it: a token of tenant id and
        // 32 random bytes, its hash in the indexed column.
        let issue_old = async |session_user: &str| {
            let old = olympus_auth::opaque::generate(tenant);
            sqlx::query(
                "UPDATE sessions SET refresh_hash = $1
                  WHERE id = (SELECT id FROM sessions WHERE user_id = $2::uuid
                               AND revoked_at IS NULL ORDER BY created_at DESC LIMIT 1)",
            )
            .bind(&old.hash)
            .bind(session_user)
            .execute(app.db.pool())
            .await
            .unwrap();
            old.token
        };
        let old = issue_old(&signup.user_id).await;
        assert_eq!(old.len(), 64);
        let reply = app.refresh(&old).await.ok();
        let new = reply["tokens"]["refresh_token"]
            .as_str()
            .unwrap()
            .to_owned();
        assert_eq!(new.len(), 86, "rotated to a token naming its session");
        app.refresh(&new).await.ok();
        // Replayed after the grace period, the old token revokes its session.
        app.clock.advance(std::time::Duration::from_secs(6));
        app.refresh(&old).await.err(401, "invalid_token");
        let revoked: bool = sqlx::query_scalar(
            "SELECT revoked_at IS NOT NULL FROM sessions WHERE user_id = $1::uuid",
        )
        .bind(&signup.user_id)
        .fetch_one(app.db.pool())
        .await
        .unwrap();
        assert!(
            revoked,
            "a replayed token of the former form revokes its session"
        );
        // Logging out with one works too.
        app.login(&signup.slug, &signup.email, &signup.password)
            .await
            .ok();
        let old = issue_old(&signup.user_id).await;
        app.logout(&old).await.ok();
        app.logout(&old).await.err(401, "invalid_token");
    })
    .await;
}
