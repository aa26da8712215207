//! Refresh tokens rotate, exactly once under concurrency; logout revokes.

use olympus_tests::{with_app, Encoding};
use serde_json::json;

#[tokio::test]
async fn of_concurrent_refreshes_with_one_token_exactly_one_succeeds() {
    with_app(async |app| {
        let signup = app.signup(Encoding::MsgPack).await;
        let attempts = (0..12).map(|_| {
            app.call(
                Encoding::MsgPack,
                "auth.v1.refresh",
                None,
                json!({"refresh_token": signup.refresh_token}),
            )
        });
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
        app.call(
            Encoding::MsgPack,
            "auth.v1.refresh",
            None,
            json!({"refresh_token": next}),
        )
        .await
        .ok();
        app.call(
            Encoding::MsgPack,
            "auth.v1.refresh",
            None,
            json!({"refresh_token": next}),
        )
        .await
        .err(401, "invalid_token");
    })
    .await;
}

#[tokio::test]
async fn a_rotated_token_reused_after_the_grace_period_revokes_the_session() {
    with_app(async |app| {
        let signup = app.signup(Encoding::Json).await;
        let refresh = async |token: &str| {
            app.call(
                Encoding::Json,
                "auth.v1.refresh",
                None,
                json!({"refresh_token": token}),
            )
            .await
        };
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
        app.call(Encoding::Json, "auth.v1.me", Some(&access), json!({}))
            .await
            .ok();
        // After it, replaying any rotated token revokes the whole session.
        app.clock.advance(std::time::Duration::from_secs(6));
        refresh(&signup.refresh_token)
            .await
            .err(401, "invalid_token");
        app.call(Encoding::Json, "auth.v1.me", Some(&access), json!({}))
            .await
            .err(401, "unauthenticated");
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
                app.call(
                    enc,
                    "auth.v1.refresh",
                    None,
                    json!({"refresh_token": token}),
                )
                .await
                .err(401, "invalid_token");
                app.call(enc, "auth.v1.logout", None, json!({"refresh_token": token}))
                    .await
                    .err(401, "invalid_token");
            }
        }
        app.call(
            Encoding::Json,
            "auth.v1.logout",
            None,
            json!({"refresh_token": signup.refresh_token}),
        )
        .await
        .ok();
        // Logging out twice, or refreshing a logged-out session, fails.
        app.call(
            Encoding::Json,
            "auth.v1.logout",
            None,
            json!({"refresh_token": signup.refresh_token}),
        )
        .await
        .err(401, "invalid_token");
        app.call(
            Encoding::Json,
            "auth.v1.refresh",
            None,
            json!({"refresh_token": signup.refresh_token}),
        )
        .await
        .err(401, "invalid_token");
        for op in ["auth.v1.me", "tenant.v1.get"] {
            app.call(Encoding::Json, op, Some(&signup.access_token), json!({}))
                .await
                .err(401, "unauthenticated");
        }
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
