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
