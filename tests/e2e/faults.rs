//! Faults under load (contract §3 `unavailable`): dependencies that go
//! away and come back. Postgres here is a private cluster the test stops
//! and starts, so the shared server stays up for the other tests.

use olympus_tests::postgres_server::PrivatePostgres;
use olympus_tests::{with_app_opts, Encoding, Options};
use serde_json::json;
use std::time::{Duration, Instant};

use crate::OLYMPUS;

#[tokio::test]
async fn while_postgres_is_down_requests_get_unavailable_promptly_and_then_all_resumes() {
    with_app_opts(Options::without_workers(), async |app| {
        let pg = PrivatePostgres::start().await;
        let url = pg.url("olympus");
        let mut serve = app
            .serve_process_with(OLYMPUS, &[], &[("DATABASE_URL", url.as_str())])
            .await;
        let signup = app.signup(Encoding::Json).await;
        let me = || {
            let mut headers = async_nats::HeaderMap::new();
            headers.insert("Content-Type", "application/json");
            headers.insert("Authorization", format!("Bearer {}", signup.access_token));
            app.try_raw("auth.v1.me", headers, "{}", Duration::from_secs(3))
        };
        me().await.expect("a reply").ok();

        pg.stop().await;
        let down = Instant::now();
        let mut unavailable = 0;
        while down.elapsed() < Duration::from_secs(4) {
            let asked = Instant::now();
            let reply = me()
                .await
                .expect("every request gets a reply while Postgres is down");
            assert!(
                asked.elapsed() < Duration::from_millis(2500),
                "a reply took {:?}",
                asked.elapsed()
            );
            if reply.status() != 200 {
                reply.err(503, "unavailable");
                unavailable += 1;
            }
        }
        assert!(
            unavailable > 0,
            "requests needing the database were refused"
        );
        // Signup writes: unavailable too, promptly.
        let asked = Instant::now();
        let reply = app
            .try_raw(
                "tenant.v1.create",
                {
                    let mut h = async_nats::HeaderMap::new();
                    h.insert("Content-Type", "application/json");
                    h
                },
                json!({"slug": "late-acme", "name": "Late", "owner": {
                    "email": "x@late.example", "password": "velvet-orbit-cactus-harmonica"}})
                .to_string(),
                Duration::from_secs(3),
            )
            .await
            .expect("a reply");
        reply.err(503, "unavailable");
        assert!(asked.elapsed() < Duration::from_millis(2500));

        pg.resume().await;
        let back = Instant::now();
        loop {
            let reply = me().await.expect("a reply");
            if reply.status() == 200 {
                break;
            }
            assert!(
                back.elapsed() < Duration::from_secs(5),
                "still {} 5 s after Postgres returned",
                reply.status()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let again = app.signup(Encoding::Json).await;
        assert!(!again.tenant_id.is_empty());
        assert!(
            serve.terminate().await.success(),
            "the process kept running"
        );
        pg.remove().await;
    })
    .await;
}
