//! Real `olympus serve` processes: readiness, signals, logs, sharing work.

use futures::StreamExt;
use olympus_tests::client::GOOD_PASSWORD;
use olympus_tests::{with_app_opts, Encoding, Options};
use serde_json::{json, Value};
use std::time::Duration;

use crate::OLYMPUS;

fn no_workers() -> Options {
    Options {
        workers: false,
        ..Options::default()
    }
}

#[tokio::test]
async fn serve_logs_ready_answers_and_stops_cleanly_on_sigterm_without_leaking_secrets() {
    with_app_opts(no_workers(), async |app| {
        let mut process = app.serve_process(OLYMPUS, &["--log-format", "json"]).await;

        let signup = app.signup(Encoding::Json).await;
        let login = app
            .call(
                Encoding::MsgPack,
                "auth.v1.login",
                None,
                json!({"tenant": signup.slug, "email": signup.email, "password": GOOD_PASSWORD}),
            )
            .await
            .ok();
        let refresh = login["tokens"]["refresh_token"].as_str().unwrap();
        let refreshed = app
            .call(
                Encoding::MsgPack,
                "auth.v1.refresh",
                None,
                json!({"refresh_token": refresh}),
            )
            .await
            .ok();
        app.call(
            Encoding::MsgPack,
            "auth.v1.login",
            None,
            json!({"tenant": signup.slug, "email": signup.email, "password": "Wrong-Password-123"}),
        )
        .await
        .err(401, "invalid_credentials");
        let hash: String = sqlx::query_scalar("SELECT password_hash FROM users LIMIT 1")
            .fetch_one(app.db.pool())
            .await
            .unwrap();

        let status = process.terminate().await;
        assert!(status.success(), "exit status {status}");
        let log = process.log.join("\n");
        assert!(log.contains("olympus stopped"), "{log}");

        // One JSON object per line; each request ends with a line carrying
        // the request span's fields.
        let requests: Vec<Value> = process
            .log
            .iter()
            .map(|l| serde_json::from_str::<Value>(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .filter(|l| l["span"]["name"] == "request")
            .filter(|l| ["ok", "refused", "failed"].contains(&l["message"].as_str().unwrap_or("")))
            .collect();
        assert!(requests.len() >= 4, "{log}");
        for line in &requests {
            for field in ["subject", "correlation_id", "status", "latency_ms"] {
                assert!(!line["span"][field].is_null(), "{field} missing in {line}");
            }
        }

        let secrets = [
            GOOD_PASSWORD,
            "Wrong-Password-123",
            &hash,
            &signup.access_token,
            &signup.refresh_token,
            refresh,
            refreshed["tokens"]["refresh_token"].as_str().unwrap(),
            refreshed["tokens"]["access_token"].as_str().unwrap(),
        ];
        for secret in secrets {
            assert!(!log.contains(secret), "a secret reached the log");
        }
    })
    .await;
}

#[tokio::test]
async fn worker_subsets_in_separate_processes_share_the_work() {
    with_app_opts(no_workers(), async |app| {
        let mut auth_a = app.serve_process(OLYMPUS, &["--workers", "auth"]).await;
        let mut auth_b = app.serve_process(OLYMPUS, &["--workers", "auth"]).await;
        let mut tenant = app.serve_process(OLYMPUS, &["--workers", "tenant"]).await;

        let signup = app.signup(Encoding::Json).await;
        for _ in 0..30 {
            app.call(
                Encoding::Json,
                "auth.v1.me",
                Some(&signup.access_token),
                json!({}),
            )
            .await
            .ok();
        }

        // Both auth processes took some of the 30 requests.
        let inbox = app.nats.new_inbox();
        let mut sub = app.nats.subscribe(inbox.clone()).await.unwrap();
        app.nats
            .publish_with_reply("$SRV.STATS.olympus-auth".to_owned(), inbox, "".into())
            .await
            .unwrap();
        let mut served = Vec::new();
        let deadline = tokio::time::Instant::now() + Duration::from_millis(700);
        while let Ok(Some(message)) = tokio::time::timeout_at(deadline, sub.next()).await {
            let stats: Value = serde_json::from_slice(&message.payload).unwrap();
            let me = stats["endpoints"]
                .as_array()
                .unwrap()
                .iter()
                .find(|e| e["subject"] == app.subject("auth.v1.me"));
            if let Some(me) = me {
                served.push(me["num_requests"].as_u64().unwrap());
            }
        }
        served.sort_unstable();
        assert_eq!(served.len(), 2, "two auth instances of this prefix");
        assert_eq!(served.iter().sum::<u64>(), 30);
        assert!(served[0] > 0, "both instances served: {served:?}");

        for process in [&mut auth_a, &mut auth_b, &mut tenant] {
            assert!(process.terminate().await.success());
        }
    })
    .await;
}

#[tokio::test]
async fn a_python_client_runs_the_identity_flow_in_both_encodings() {
    with_app_opts(no_workers(), async |app| {
        let mut process = app.serve_process(OLYMPUS, &[]).await;
        let script = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../examples/python/identity_flow.py"
        );
        let output = tokio::process::Command::new("python3")
            .arg(script)
            .env("NATS_URL", &app.nats_url)
            .env("OLYMPUS_SUBJECT_PREFIX", &app.prefix)
            .output()
            .await
            .expect("running python3 (see examples/python/requirements.txt)");
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            output.status.success(),
            "stdout:\n{stdout}\nstderr:\n{stderr}"
        );
        let steps: Vec<String> = stdout
            .lines()
            .map(|l| {
                let line: Value = serde_json::from_str(l).unwrap();
                format!(
                    "{} {}",
                    line["step"].as_str().unwrap(),
                    line["encoding"].as_str().unwrap_or("")
                )
            })
            .collect();
        let mut expected = Vec::new();
        for enc in ["msgpack", "json"] {
            for step in [
                "tenant.create",
                "auth.login",
                "auth.me",
                "auth.refresh",
                "auth.logout",
                "errors",
            ] {
                expected.push(format!("{step} {enc}"));
            }
        }
        expected.push("done ".to_owned());
        assert_eq!(steps, expected);
        assert!(process.terminate().await.success());
    })
    .await;
}
