//! Real `olympus serve` processes: readiness, signals, logs, sharing work.

use futures::StreamExt;
use olympus_tests::client::GOOD_PASSWORD;
use olympus_tests::ops::{money, Call};
use olympus_tests::{with_app, with_app_opts, Encoding, Options, TestApp};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::time::Duration;

use crate::OLYMPUS;

#[tokio::test]
async fn serve_logs_ready_answers_and_stops_cleanly_on_sigterm_without_leaking_secrets() {
    with_app_opts(Options::without_workers(), async |app| {
        let mut process = app.serve_process(OLYMPUS, &["--log-format", "json"]).await;

        let signup = app.signup(Encoding::Json).await;
        let login = app
            .login(&signup.slug, &signup.email, GOOD_PASSWORD)
            .encoded(Encoding::MsgPack)
            .await
            .ok();
        let refresh = login["tokens"]["refresh_token"].as_str().unwrap();
        let refreshed = app.refresh(refresh).encoded(Encoding::MsgPack).await.ok();
        app.login(&signup.slug, &signup.email, "Wrong-Password-123")
            .encoded(Encoding::MsgPack)
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
    with_app_opts(Options::without_workers(), async |app| {
        let mut auth_a = app.serve_process(OLYMPUS, &["--workers", "auth"]).await;
        let mut auth_b = app.serve_process(OLYMPUS, &["--workers", "auth"]).await;
        let mut tenant = app.serve_process(OLYMPUS, &["--workers", "tenant"]).await;

        let signup = app.signup(Encoding::Json).await;
        for _ in 0..30 {
            app.me(&signup.access_token).await.ok();
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

/// Runs a Python client from `examples/python/` against a real `olympus
/// serve`, with the typed package installed (`tools/python-venv`), and
/// checks that it printed `steps` in each of `encodings` (none: the
/// package's MessagePack), then `done`.
async fn run_python_client(script: &str, encodings: &[&str], steps: &[&str]) {
    with_app_opts(Options::without_workers(), async |app| {
        let mut process = app.serve_process(OLYMPUS, &[]).await;
        let script = format!("{}/../examples/python/{script}", env!("CARGO_MANIFEST_DIR"));
        let output = tokio::process::Command::new(olympus_tests::python::client_python())
            .arg(&script)
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
        let printed: Vec<String> = stdout
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
        let mut expected: Vec<String> = encodings
            .iter()
            .flat_map(|enc| steps.iter().map(move |step| format!("{step} {enc}")))
            .collect();
        expected.push("done ".to_owned());
        assert_eq!(printed, expected);
        assert!(process.terminate().await.success());
    })
    .await;
}

/// register -> verify (mail) -> login -> sessions.list -> logout_all ->
/// request reset (mail) -> reset -> login, from Python, on the typed package.
#[tokio::test]
async fn a_python_client_runs_an_accounts_life_with_its_mail() {
    run_python_client(
        "account_flow.py",
        &[""],
        &[
            "auth.register",
            "auth.verify_email",
            "auth.login",
            "auth.sessions.list",
            "auth.logout_all",
            "auth.request_password_reset",
            "auth.reset_password",
            "auth.login (new password)",
            "auth.mfa.totp.confirm",
            "auth.login_mfa (TOTP)",
            "auth.login_mfa (recovery code)",
            "auth.mfa.disable",
        ],
    )
    .await;
}

/// email change (mail) -> confirm -> export with an order -> the audit
/// log -> deletion, from Python, on the typed package.
#[tokio::test]
async fn a_python_client_changes_its_email_exports_its_data_reads_the_audit_log_and_leaves() {
    run_python_client(
        "lifecycle_flow.py",
        &[""],
        &[
            "auth.change_email",
            "auth.confirm_email_change (taken)",
            "auth.export_me",
            "tenant.audit.list",
            "auth.delete_me",
        ],
    )
    .await;
}

/// invite (mail) -> accept -> members.list in pages -> set_role up and
/// down -> remove, from Python, on the typed package.
#[tokio::test]
async fn a_python_client_administers_members() {
    run_python_client(
        "admin_flow.py",
        &[""],
        &[
            "tenant.members.invite",
            "auth.accept_invite",
            "tenant.members.list",
            "tenant.members.set_role",
            "tenant.members.remove",
        ],
    )
    .await;
}

/// products and a promotion -> a cart with the code -> checkout with a
/// card (key retried) -> the refusals -> capture (key retried) -> refunds,
/// from Python, on the typed package.
#[tokio::test]
async fn a_python_client_runs_a_shop() {
    run_python_client(
        "shop_flow.py",
        &[""],
        &[
            "commerce.products.create",
            "commerce.promotions.create",
            "commerce.carts.update",
            "commerce.carts.checkout",
            "commerce.carts.checkout refused",
            "commerce.payments.capture",
            "commerce.payments.refund",
        ],
    )
    .await;
}

#[tokio::test]
async fn a_python_client_runs_the_identity_flow_in_both_encodings() {
    // Raw nats-py and msgpack against the contract's field names.
    run_python_client(
        "identity_flow.py",
        &["msgpack", "json"],
        &[
            "tenant.create",
            "auth.login",
            "auth.me",
            "auth.refresh",
            "auth.logout",
            "errors",
        ],
    )
    .await;
}

fn signup_body(slug: &str) -> Value {
    json!({
        "slug": slug,
        "name": "Burst",
        "owner": {"email": format!("owner@{slug}.example.com"), "password": GOOD_PASSWORD}
    })
}

#[tokio::test]
async fn a_python_subscriber_sees_signup_events_with_the_callers_correlation_id() {
    with_app_opts(Options::without_workers(), async |app| {
        let mut process = app.serve_process(OLYMPUS, &[]).await;
        fn correlated(call: Call<'_>) -> Call<'_> {
            call.header("X-Correlation-Id", "python-sees-this")
        }
        let email = "owner@pysub.example.com";
        let signup = correlated(app.create_tenant("pysub", "Burst", email, GOOD_PASSWORD))
            .await
            .ok();
        let tenant = signup["tenant"]["id"].as_str().unwrap();
        // More event types: a login, a failed one, a logout.
        let login = correlated(app.login("pysub", email, GOOD_PASSWORD))
            .await
            .ok();
        correlated(app.login("pysub", email, "not-the-password"))
            .await
            .err(401, "invalid_credentials");
        let refresh = login["tokens"]["refresh_token"].as_str().unwrap();
        correlated(app.logout(refresh)).await.ok();
        let spec = concat!(env!("CARGO_MANIFEST_DIR"), "/../contracts/spec/v1.json");
        let script = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../examples/python/subscriber.py"
        );
        let output = tokio::time::timeout(
            Duration::from_secs(60),
            tokio::process::Command::new(olympus_tests::python::client_python())
                .args([
                    script,
                    "--tenant",
                    tenant,
                    "--count",
                    "6",
                    "--durable",
                    "e2e",
                    "--spec",
                    spec,
                ])
                .env("NATS_URL", &app.nats_url)
                .env("OLYMPUS_SUBJECT_PREFIX", &app.prefix)
                .output(),
        )
        .await
        .expect("the subscriber prints six events within 60 s")
        .expect("running python3");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "{stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let events: Vec<Value> = stdout
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let mut types: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
        types.sort_unstable();
        assert_eq!(
            types,
            [
                "session.revoked",
                "tenant.created",
                "user.logged_in",
                "user.logged_out",
                "user.login_failed",
                "user.registered"
            ],
            "each parsed into its generated class and validated against the spec's data schema"
        );
        for event in &events {
            assert_eq!(event["correlation_id"], "python-sees-this");
            assert_eq!(event["tenant_id"], tenant);
        }
        for secret in [
            GOOD_PASSWORD,
            signup["tokens"]["access_token"].as_str().unwrap(),
            signup["tokens"]["refresh_token"].as_str().unwrap(),
            "$argon2id$",
        ] {
            assert!(!stdout.contains(secret), "the subscriber saw a secret");
        }
        assert!(process.terminate().await.success());
    })
    .await;
}

#[tokio::test]
async fn events_tail_prints_a_tenants_events_as_json_lines() {
    with_app(async |app| {
        let ours = app.signup(Encoding::Json).await;
        let _other = app.signup(Encoding::Json).await;
        let output = tokio::time::timeout(
            Duration::from_secs(30),
            tokio::process::Command::new(OLYMPUS)
                .args([
                    "events",
                    "tail",
                    "--from-start",
                    "--tenant",
                    &ours.tenant_id,
                    "--type",
                    "user.registered",
                    "--count",
                    "1",
                ])
                .env("NATS_URL", &app.nats_url)
                .env("OLYMPUS_SUBJECT_PREFIX", &app.prefix)
                .output(),
        )
        .await
        .expect("events tail exits after --count events")
        .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let stdout = String::from_utf8_lossy(&output.stdout);
        let lines: Vec<Value> = stdout
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 1, "{stdout}");
        assert_eq!(lines[0]["type"], "user.registered");
        assert_eq!(lines[0]["tenant_id"], ours.tenant_id);

        let bad = tokio::process::Command::new(OLYMPUS)
            .args(["events", "tail", "--type", "user.exploded"])
            .env("NATS_URL", &app.nats_url)
            .output()
            .await
            .unwrap();
        assert!(!bad.status.success());
        assert!(String::from_utf8_lossy(&bad.stderr).contains("unknown event type"));
    })
    .await;
}

/// `serve --workers commerce` alone answers commerce, honours revocations
/// made by another process, and never builds the password hasher.
#[tokio::test]
async fn a_commerce_only_process_serves_commerce_without_the_password_hasher() {
    with_app_opts(Options::without_workers(), async |app| {
        let mut identity = app
            .serve_process(OLYMPUS, &["--workers", "auth,tenant"])
            .await;
        let mut commerce = app.serve_process(OLYMPUS, &["--workers", "commerce"]).await;
        let signup = app.signup(Encoding::Json).await;
        let product = app
            .create_product(&signup.access_token, "SOLO", "Solo", money(100, "EUR"))
            .encoded(Encoding::MsgPack)
            .await
            .ok();
        assert_eq!(product["product"]["sku"], "SOLO");
        app.logout(&signup.refresh_token).await.ok();
        app.list_products(&signup.access_token)
            .refused_within(Duration::from_secs(1))
            .await;
        assert!(identity.terminate().await.success());
        assert!(commerce.terminate().await.success());
        assert!(identity
            .log
            .iter()
            .any(|l| l.contains("password hasher ready")));
        assert!(
            !commerce.log.iter().any(|l| l.contains("password hasher")),
            "a commerce-only process builds no hasher:\n{}",
            commerce.log.join("\n")
        );
    })
    .await;
}

/// `olympus call`: JSON in and out, the token of a login kept in a file
/// only its owner reads, used by later calls; an error reply exits 1.
#[tokio::test]
async fn olympus_call_speaks_json_and_keeps_the_login_token() {
    with_app(async |app| {
        let signup = app.signup(Encoding::Json).await;
        let dir = std::env::temp_dir().join(format!("olympus-call-{}", uuid::Uuid::new_v4()));
        let token_file = dir.join("token");
        let call = async |args: &[&str]| {
            tokio::process::Command::new(OLYMPUS)
                .arg("call")
                .args(args)
                .env("NATS_URL", &app.nats_url)
                .env("OLYMPUS_SUBJECT_PREFIX", &app.prefix)
                .env("OLYMPUS_TOKEN_FILE", &token_file)
                .output()
                .await
                .unwrap()
        };
        let me = call(&["auth.me"]).await;
        assert!(!me.status.success());
        assert!(String::from_utf8_lossy(&me.stderr).contains("call auth.login first"));
        let login =
            json!({"tenant": signup.slug, "email": signup.email, "password": GOOD_PASSWORD});
        let logged_in = call(&["auth.login", &login.to_string()]).await;
        assert!(
            logged_in.status.success(),
            "{}",
            String::from_utf8_lossy(&logged_in.stderr)
        );
        let reply: Value = serde_json::from_slice(&logged_in.stdout).unwrap();
        assert_eq!(reply["user"]["email"], signup.email.as_str());
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&token_file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the token file is its owner's only");
        let me = call(&["auth.me"]).await;
        assert!(me.status.success());
        let me: Value = serde_json::from_slice(&me.stdout).unwrap();
        assert_eq!(me["user"]["id"], signup.user_id.as_str());
        let refused = call(&["tenant.list"]).await;
        assert_eq!(refused.status.code(), Some(1));
        let body: Value = serde_json::from_slice(&refused.stdout).unwrap();
        assert_eq!(body["code"], "forbidden");
        assert!(String::from_utf8_lossy(&refused.stderr).contains("403 forbidden"));
        let unknown = call(&["auth.nothing"]).await;
        assert_eq!(unknown.status.code(), Some(1));
        // What was meant when something is close, else every name
        // (tests/e2e/cli.rs).
        assert!(String::from_utf8_lossy(&unknown.stderr).contains("no operation \"auth.nothing\";"));

        // A reader that stops early (`olympus call ... | head -c 10`): no
        // panic, a clean exit, and the login's token still kept.
        std::fs::remove_file(&token_file).unwrap();
        let mut piped = tokio::process::Command::new(OLYMPUS)
            .args(["call", "auth.login", &login.to_string()])
            .env("NATS_URL", &app.nats_url)
            .env("OLYMPUS_SUBJECT_PREFIX", &app.prefix)
            .env("OLYMPUS_TOKEN_FILE", &token_file)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        drop(piped.stdout.take());
        let closed = piped.wait_with_output().await.unwrap();
        let stderr = String::from_utf8_lossy(&closed.stderr);
        assert!(closed.status.success(), "{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert!(
            token_file.exists(),
            "the token is kept before the reply is printed"
        );
        let _ = std::fs::remove_dir_all(&dir);
    })
    .await;
}

/// `OLYMPUS_METRICS_ADDR`: Prometheus text with each operation's requests,
/// errors by code and latency histogram, the time requests waited for
/// password hashing, the outbox, the revocation age and the pools;
/// `/healthz` and `/readyz`.
#[tokio::test]
async fn the_metrics_port_serves_prometheus_text_and_health() {
    with_app_opts(Options::without_workers(), async |app| {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let addr = format!("127.0.0.1:{port}");
        let mut serve = app
            .serve_process_with(OLYMPUS, &[], &[("OLYMPUS_METRICS_ADDR", addr.as_str())])
            .await;
        let signup = app.signup(Encoding::Json).await;
        for _ in 0..3 {
            app.me(&signup.access_token).await.ok();
        }
        app.call(Encoding::Json, "auth.v1.me", None, json!({}))
            .await
            .err(401, "unauthenticated");
        let get = async |path: &str| -> (String, String) {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
            stream
                .write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
                .await
                .unwrap();
            let mut response = String::new();
            stream.read_to_string(&mut response).await.unwrap();
            let (head, body) = response.split_once("\r\n\r\n").unwrap();
            (head.lines().next().unwrap().to_owned(), body.to_owned())
        };
        let (status, metrics) = get("/metrics").await;
        assert!(status.contains("200"), "{status}");
        for line in [
            "olympus_requests_total{operation=\"auth.me\"} 4",
            "olympus_request_errors_total{operation=\"auth.me\",code=\"unauthenticated\"} 1",
            "olympus_request_duration_seconds_count{operation=\"auth.me\"} 4",
            "olympus_request_duration_seconds_bucket{operation=\"auth.me\",le=\"+Inf\"} 4",
            "olympus_requests_total{operation=\"tenant.create\"} 1",
            "olympus_outbox_dead_letters 0",
            // The owner's password, hashed at the sign-up.
            "olympus_password_hashings_total 1",
        ] {
            assert!(
                metrics.lines().any(|l| l == line),
                "no {line:?} in:\n{metrics}"
            );
        }
        for name in [
            "olympus_outbox_unpublished ",
            "olympus_outbox_lag_seconds ",
            "olympus_revocation_age_seconds ",
            "olympus_db_connections{pool=\"app\",state=\"idle\"} ",
        ] {
            assert!(metrics.contains(name), "no {name} in:\n{metrics}");
        }
        let hashing: f64 = metrics
            .lines()
            .find_map(|l| l.strip_prefix("olympus_password_hashing_seconds_total "))
            .unwrap_or_else(|| panic!("no hashing time in:\n{metrics}"))
            .parse()
            .unwrap();
        assert!(hashing > 0.0, "{metrics}");
        assert!(get("/healthz").await.0.contains("200"));
        assert!(get("/readyz").await.0.contains("200"));
        assert!(get("/nothing").await.0.contains("404"));
        assert!(serve.terminate().await.success());
    })
    .await;
}

/// `olympus doctor`: every check passes on a working deployment; on a
/// database that was never migrated it fails and names the fix.
#[tokio::test]
async fn olympus_doctor_says_what_is_wrong_and_how_to_fix_it() {
    with_app(async |app| {
        let doctor_with = async |database_url: &str, env: &[(&str, &str)]| {
            tokio::process::Command::new(OLYMPUS)
                .arg("doctor")
                .env("DATABASE_URL", database_url)
                .env("NATS_URL", &app.nats_url)
                .env("OLYMPUS_SUBJECT_PREFIX", &app.prefix)
                .env(
                    "OLYMPUS_KEY_ENCRYPTION_KEY",
                    olympus_tests::app::TEST_KEY_ENCRYPTION_KEY,
                )
                .envs(env.iter().copied())
                .output()
                .await
                .unwrap()
        };
        let doctor = async |database_url: &str| doctor_with(database_url, &[]).await;
        let healthy = doctor(&app.database_url).await;
        let out = String::from_utf8_lossy(&healthy.stdout);
        assert!(healthy.status.success(), "{out}");
        // A nats-server older than production needs is a warning, not a
        // failure (tests/e2e/cli.rs).
        let nats = out
            .lines()
            .find(|l| l.contains("  nats: "))
            .unwrap_or_default();
        assert!(
            (nats.starts_with("ok    nats") || nats.starts_with("warn  nats"))
                && nats.contains("nats-server "),
            "{out}"
        );
        for line in [
            "ok    postgres",
            "ok    migrations",
            "ok    database roles",
            "ok    olympus-auth: 1 instance(s)",
            "ok    olympus-commerce: 1 instance(s)",
            "ok    key-encryption key: set",
            "warn  signing keys",
            "no key is on standby to take over",
            "fix: `olympus keys add`",
        ] {
            assert!(out.contains(line), "no {line:?} in:\n{out}");
        }
        // Signing keys: a standby key makes them healthy; an old active key,
        // a key-encryption key that does not open them, and a migration
        // window left configured are said.
        let kek =
            olympus_auth::keys::Kek::parse(olympus_tests::app::TEST_KEY_ENCRYPTION_KEY).unwrap();
        olympus_auth::keys::add(app.db.pool(), &kek, chrono::Utc::now())
            .await
            .unwrap();
        let out = doctor(&app.database_url).await;
        let out = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(out.contains("ok    signing keys: active "), "{out}");
        assert!(out.contains(", 1 on standby"), "{out}");
        let other_kek = "AwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwM=";
        let legacy = "r2:CwsLCwsLCwsLCwsLCwsLCwsLCwsLCwsLCwsLCwsLCws=";
        for (env, line) in [
            (
                ("OLYMPUS_SIGNING_KEY_MAX_AGE_DAYS", "0"),
                "warn  signing keys: the active key",
            ),
            (
                ("OLYMPUS_KEY_ENCRYPTION_KEY", other_kek),
                "does not open with this key-encryption key",
            ),
            (
                ("OLYMPUS_LEGACY_HS256_KEYS", legacy),
                "ok    legacy HS256 keys: HS256 tokens issued before the upgrade verify until",
            ),
            (
                ("OLYMPUS_JWT_KEYS", legacy),
                "warn  legacy HS256 keys: OLYMPUS_JWT_KEYS is set but no longer read",
            ),
        ] {
            let out = doctor_with(&app.database_url, &[env]).await;
            let out = String::from_utf8_lossy(&out.stdout).into_owned();
            assert!(out.contains(line), "{env:?}: no {line:?} in:\n{out}");
        }
        // A database with no migrations: FAIL, with the command that fixes it.
        let empty = format!("olympus_doctor_{}", uuid::Uuid::new_v4().simple());
        sqlx::query(&format!("CREATE DATABASE {empty}"))
            .execute(app.db.pool())
            .await
            .unwrap();
        let url = olympus_tests::infra::with_database(&app.database_url, &empty);
        let sick = doctor(&url).await;
        let out = String::from_utf8_lossy(&sick.stdout);
        assert_eq!(sick.status.code(), Some(1), "{out}");
        assert!(out.contains("FAIL  migrations"), "{out}");
        assert!(out.contains("fix: `olympus migrate`"), "{out}");
        sqlx::query(&format!("DROP DATABASE {empty} WITH (FORCE)"))
            .execute(app.db.pool())
            .await
            .unwrap();
    })
    .await;
}

/// `olympus admin bootstrap --email ...` with the password on stdin.
async fn bootstrap(
    app: &olympus_tests::TestApp,
    args: &[&str],
    stdin: &str,
) -> std::process::Output {
    use tokio::io::AsyncWriteExt;
    let mut child = tokio::process::Command::new(OLYMPUS)
        .args(["admin", "bootstrap"])
        .args(args)
        .env("DATABASE_URL", &app.database_url)
        .env("OLYMPUS_SUBJECT_PREFIX", &app.prefix)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.as_bytes()).await.unwrap();
    drop(input);
    tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .expect("bootstrap exits")
        .unwrap()
}

#[tokio::test]
async fn admin_bootstrap_reads_the_password_from_stdin_and_refuses_it_in_argv() {
    with_app(async |app| {
        let email = "root@platform.example.com";
        let from_argv = bootstrap(app, &["--email", email, "--password", GOOD_PASSWORD], "").await;
        assert!(!from_argv.status.success());
        let stderr = String::from_utf8_lossy(&from_argv.stderr);
        assert!(stderr.contains("standard input"), "{stderr}");
        let nothing = bootstrap(app, &["--email", email], "").await;
        assert!(!nothing.status.success());
        let weak = bootstrap(app, &["--email", email], "password\n").await;
        assert!(!weak.status.success());
        assert!(String::from_utf8_lossy(&weak.stderr).contains("password"));

        let made = bootstrap(app, &["--email", email], &format!("{GOOD_PASSWORD}\n")).await;
        let stderr = String::from_utf8_lossy(&made.stderr);
        assert!(made.status.success(), "{stderr}");
        assert!(
            !stderr.contains(GOOD_PASSWORD),
            "the password is never logged"
        );
        let again = bootstrap(app, &["--email", email], &format!("{GOOD_PASSWORD}\n")).await;
        assert!(!again.status.success());
        let stderr = String::from_utf8_lossy(&again.stderr);
        assert!(
            stderr.contains("already a platform administrator"),
            "{stderr}"
        );

        let login = app.login("platform", email, GOOD_PASSWORD).await.ok();
        assert_eq!(login["user"]["role"], "owner");
        let token = login["tokens"]["access_token"].as_str().unwrap();
        let tenants = app.list_tenants(token).await.ok();
        assert_eq!(tenants["items"][0]["slug"], "platform");
        let created = app.events(None, Some("tenant.created"), 1).await;
        assert_eq!(created[0].body["data"]["tenant"]["slug"], "platform");
    })
    .await;
}

#[tokio::test]
async fn after_kill_9_in_a_burst_acknowledged_signups_and_events_match_one_to_one() {
    let options = Options {
        relay: false,
        ..Options::without_workers()
    };
    with_app_opts(options, async |app| {
        let mut process = app.serve_process(OLYMPUS, &[]).await;
        let first_acknowledged = tokio::sync::Notify::new();
        let first_acknowledged = &first_acknowledged;
        let burst = (0..60).map(|i| async move {
            // Stagger the burst so that the kill lands in the middle of it.
            tokio::time::sleep(Duration::from_millis(i * 15)).await;
            let slug = format!("burst-{i}");
            let mut headers = async_nats::HeaderMap::new();
            headers.insert("Content-Type", "application/json");
            let reply = app
                .try_raw(
                    "tenant.v1.create",
                    headers,
                    serde_json::to_vec(&signup_body(&slug)).unwrap(),
                    Duration::from_secs(5),
                )
                .await;
            let id = reply
                .filter(|r| r.status() == 200)
                .map(|r| r.body()["tenant"]["id"].as_str().unwrap().to_owned());
            if id.is_some() {
                first_acknowledged.notify_one();
            }
            id
        });
        // Once the first signup is acknowledged, however loaded the
        // machine (Argon2 runs in every signup), not at a fixed time.
        let kill = async {
            let _ =
                tokio::time::timeout(Duration::from_secs(10), first_acknowledged.notified()).await;
            process.kill().await;
        };
        let (acknowledged, ()) = tokio::join!(futures::future::join_all(burst), kill);
        let acknowledged: Vec<String> = acknowledged.into_iter().flatten().collect();
        assert!(
            !acknowledged.is_empty(),
            "some signups finished before the kill"
        );
        assert!(acknowledged.len() < 60, "the kill interrupted the burst");

        let mut restarted = app.serve_process(OLYMPUS, &[]).await;
        let committed: Vec<String> = sqlx::query_scalar("SELECT id::text FROM tenants")
            .fetch_all(app.db.pool())
            .await
            .unwrap();
        let events = app
            .events(None, Some("tenant.created"), committed.len())
            .await;
        let mut counts: HashMap<String, usize> = HashMap::new();
        for event in &events {
            *counts
                .entry(event.body["tenant_id"].as_str().unwrap().to_owned())
                .or_default() += 1;
        }
        for tenant in &acknowledged {
            assert_eq!(
                counts.get(tenant),
                Some(&1),
                "acknowledged {tenant}: one event"
            );
        }
        for tenant in &committed {
            assert_eq!(
                counts.get(tenant),
                Some(&1),
                "committed {tenant}: one event"
            );
        }
        assert_eq!(
            counts.len(),
            committed.len(),
            "no event without its committed change"
        );
        eprintln!(
            "kill -9: {} acknowledged, {} committed, {} events",
            acknowledged.len(),
            committed.len(),
            events.len()
        );
        assert!(restarted.terminate().await.success());
    })
    .await;
}

#[tokio::test]
async fn migrate_creates_a_missing_database_and_applies_every_migration() {
    with_app_opts(Options::without_workers(), async |app| {
        let name = format!("olympus_migrate_{}", uuid::Uuid::new_v4().simple());
        let url = olympus_tests::infra::with_database(&app.database_url, &name);
        let output = tokio::process::Command::new(OLYMPUS)
            .arg("migrate")
            .env("DATABASE_URL", &url)
            .output()
            .await
            .unwrap();
        let log = String::from_utf8_lossy(&output.stderr).into_owned();
        let applied: Result<i64, _> = async {
            let db = olympus_runtime::Db::connect(&url, None, 1, false).await?;
            let count = sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations WHERE success")
                .fetch_one(db.pool())
                .await?;
            db.close().await;
            anyhow::Ok(count)
        }
        .await;
        sqlx::query(&format!(r#"DROP DATABASE IF EXISTS "{name}" WITH (FORCE)"#))
            .execute(app.db.pool())
            .await
            .unwrap();
        assert!(output.status.success(), "{log}");
        assert!(
            log.contains("creating the database") && log.contains("migrations applied"),
            "{log}"
        );
        assert_eq!(
            applied.unwrap(),
            olympus_runtime::db::MIGRATOR.iter().count() as i64
        );
    })
    .await;
}

/// `olympus serve` on `database_url` (this test's NATS and prefix, with the
/// key-encryption key `kek`) that is expected to refuse to start: its exit
/// status and what it logged.
pub(crate) async fn serve_refusing(
    app: &TestApp,
    database_url: &str,
    args: &[&str],
    kek: &str,
) -> (bool, String) {
    let output = tokio::time::timeout(
        Duration::from_secs(30),
        tokio::process::Command::new(OLYMPUS)
            .arg("serve")
            .args(args)
            .env_clear()
            .env("DATABASE_URL", database_url)
            .env("NATS_URL", &app.nats_url)
            .env("OLYMPUS_SUBJECT_PREFIX", &app.prefix)
            .env("OLYMPUS_KEY_ENCRYPTION_KEY", kek)
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("serve kept running instead of refusing to start")
    .unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test]
async fn serve_never_creates_a_mistyped_database_and_refuses_one_that_lacks_migrations() {
    with_app_opts(Options::without_workers(), async |app| {
        // A database name nobody created: serve stops, naming it, and
        // creates nothing.
        let typo = format!("olympsu_{}", uuid::Uuid::new_v4().simple());
        let url = olympus_tests::infra::with_database(&app.database_url, &typo);
        let (ok, log) =
            serve_refusing(app, &url, &[], olympus_tests::app::TEST_KEY_ENCRYPTION_KEY).await;
        assert!(!ok, "{log}");
        assert!(
            log.contains(&typo) && log.contains("does not exist"),
            "{log}"
        );
        let created: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
                .bind(&typo)
                .fetch_one(app.db.pool())
                .await
                .unwrap();
        assert!(!created, "serve created {typo}");

        // The newest migration missing: serve says to run migrate.
        let newest = olympus_runtime::db::MIGRATOR
            .iter()
            .map(|m| m.version)
            .max()
            .unwrap();
        sqlx::query("UPDATE _sqlx_migrations SET version = -version WHERE version = $1")
            .bind(newest)
            .execute(app.db.pool())
            .await
            .unwrap();
        let (ok, log) = serve_refusing(
            app,
            &app.database_url,
            &[],
            olympus_tests::app::TEST_KEY_ENCRYPTION_KEY,
        )
        .await;
        assert!(!ok, "{log}");
        assert!(
            log.contains(&newest.to_string()) && log.contains("olympus migrate"),
            "{log}"
        );
        sqlx::query("UPDATE _sqlx_migrations SET version = -version WHERE version = $1")
            .bind(-newest)
            .execute(app.db.pool())
            .await
            .unwrap();

        // A migration this binary does not know (a newer binary's, in a
        // rolling deploy) is fine: it serves.
        sqlx::query(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time)
             VALUES (99999999, 'from a newer olympus', true, '\\x00', 0)",
        )
        .execute(app.db.pool())
        .await
        .unwrap();
        let mut process = app.serve_process(OLYMPUS, &[]).await;
        app.signup(Encoding::Json).await;
        assert!(process.terminate().await.success());
        // And `olympus migrate` of this binary leaves it alone too.
        let output = tokio::process::Command::new(OLYMPUS)
            .arg("migrate")
            .env("DATABASE_URL", &app.database_url)
            .output()
            .await
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    })
    .await;
}

/// Runs `olympus bench` with `args` against an `olympus serve` of the app's
/// until it ends, and returns what it printed; both must succeed.
async fn bench(app: &TestApp, args: &[&str]) -> String {
    let mut process = app.serve_process(OLYMPUS, &[]).await;
    let output = tokio::process::Command::new(OLYMPUS)
        .arg("bench")
        .args(args)
        .args(["--server-pid", &process.pid().to_string()])
        .env("NATS_URL", &app.nats_url)
        .env("OLYMPUS_SUBJECT_PREFIX", &app.prefix)
        .env("DATABASE_URL", &app.database_url)
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(process.terminate().await.success());
    stdout
}

/// The number that `stdout`'s line starting with `prefix` (after its
/// indentation) goes on with (as in `0.91` or `59/s, ...`).
fn number_after(stdout: &str, prefix: &str) -> f64 {
    number_in(line_starting(stdout, prefix), prefix)
}

/// `stdout`'s line starting with `prefix` (after its indentation), without
/// its indentation.
fn line_starting<'a>(stdout: &'a str, prefix: &str) -> &'a str {
    stdout
        .lines()
        .map(str::trim_start)
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no line {prefix:?}:\n{stdout}"))
}

/// The number right after `marker` in `line`.
fn number_in(line: &str, marker: &str) -> f64 {
    let (_, rest) = line
        .split_once(marker)
        .unwrap_or_else(|| panic!("no {marker:?} in {line:?}"));
    let rest = rest.trim_start();
    let end = rest
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(rest.len());
    rest[..end]
        .parse()
        .unwrap_or_else(|e| panic!("{line:?}: {e}"))
}

/// The two figures of `line`'s `the mean of A{unit} before the run and
/// B{unit} after`.
fn before_and_after(line: &str, unit: &str) -> (f64, f64) {
    let parse = |t: &str| -> f64 { t.parse().unwrap_or_else(|e| panic!("{line:?}: {e}")) };
    let (_, rest) = line
        .split_once("the mean of ")
        .unwrap_or_else(|| panic!("no mean: {line}"));
    let (before, rest) = rest
        .split_once(&format!("{unit} before the run and "))
        .unwrap_or_else(|| panic!("no before: {line}"));
    let (after, _) = rest
        .split_once(&format!("{unit} after"))
        .unwrap_or_else(|| panic!("no after: {line}"));
    (parse(before), parse(after))
}

/// `olympus bench --op me` with its floors: a NATS echo, a Postgres point
/// select, a committed one-row update (on a table of its own, dropped
/// after), and an echo whose responder runs the select (the least a
/// bearer read can cost), each answered every time, with `auth.me`'s
/// ratio to each.
#[tokio::test]
async fn bench_me_reports_each_floor_and_the_ratio_to_it() {
    with_app_opts(Options::without_workers(), async |app| {
        let stdout = bench(
            app,
            &["--op", "me", "--requests", "300", "--concurrency", "8"],
        )
        .await;
        for floor in [
            "bare NATS echo",
            "Postgres point select (pool of 16)",
            "Postgres one-row update, committed (pool of 16)",
            "NATS echo through a point select",
        ] {
            let line = olympus_tests::process::report_fields(&stdout, &format!("  {floor}: "));
            assert_eq!(line["n"], "300", "{floor}:\n{stdout}");
            assert_eq!(line["unexpected"], "0", "{floor}:\n{stdout}");
        }
        for ratio in [
            "Me / NATS echo:",
            "Me / Postgres point select:",
            "Me / Postgres one-row update, committed:",
            "Me / NATS echo through a point select:",
        ] {
            assert!(number_after(&stdout, ratio) > 0.0, "{ratio}\n{stdout}");
        }
        let left: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_tables WHERE tablename LIKE 'olympus_bench_update_floor_%'",
        )
        .fetch_one(app.db.pool())
        .await
        .unwrap();
        assert_eq!(left, 0, "the update floor's table is dropped");
        // Each process's CPU per request, named; no Argon2 for `me`.
        let cpu = cpu_line(&stdout);
        for part in [
            "server ",
            "(Argon2 threads 0 us)",
            "Postgres ",
            "nats-server ",
            "this bench ",
            "the machine ",
        ] {
            assert!(cpu.contains(part), "{part}: {cpu}");
        }
    })
    .await;
}

/// `olympus bench --mix` against a live `serve`: every operation of the
/// blend answered without an error, a timeline line per second, and as
/// many units of the product taken as orders acknowledged.
#[tokio::test]
async fn bench_mix_runs_the_whole_blend_and_reports_it_per_operation_and_per_second() {
    with_app_opts(Options::without_workers(), async |app| {
        let stdout = bench(
            app,
            &[
                "--mix",
                "--duration",
                "3s",
                "--concurrency",
                "4",
                "--no-floors",
            ],
        )
        .await;
        // `  name: key=value key=value ...`
        let fields = |prefix: &str| olympus_tests::process::report_fields(&stdout, prefix);
        for op in [
            "auth.me",
            "tenant.get",
            "auth.refresh",
            "auth.login",
            "commerce.orders.create",
            "total",
        ] {
            let line = fields(&format!("  {op}: "));
            let n: u64 = line["n"].parse().unwrap();
            assert!(n > 0, "{op} ran:\n{stdout}");
            assert_eq!(line["ok"], line["n"], "{op}: every request ok:\n{stdout}");
            assert_eq!(line["errors"], "{}", "{op}: no errors:\n{stdout}");
            assert!(line.contains_key("p999"), "{op}: percentiles:\n{stdout}");
        }
        let timeline = stdout.lines().filter(|l| l.starts_with("  t=")).count();
        assert!(timeline >= 3, "a line per second:\n{stdout}");
        let orders = fields("orders: ");
        let acknowledged: u64 = orders["acknowledged"].parse().unwrap();
        assert!(acknowledged > 0, "{stdout}");
        assert_eq!(orders["stock_taken"], orders["acknowledged"], "{stdout}");
        assert_eq!(orders["abandoned"], "0", "{stdout}");
        eprintln!("{stdout}");
    })
    .await;
}

/// `olympus bench --op login` with its floors: each caller logs in as its
/// own user, every login succeeds, and the Argon2 limit is measured before
/// the run and after it, one verification per core side by side, and also
/// computed as cores ÷ one verification alone, with the logins' ratio to
/// each.
#[tokio::test]
async fn bench_login_reports_the_argon2_limit_measured_and_computed() {
    with_app_opts(Options::without_workers(), async |app| {
        let stdout = bench(
            app,
            &["--op", "login", "--requests", "16", "--concurrency", "2"],
        )
        .await;
        // Each caller logs in as its own user: the owner and two more.
        assert!(
            stdout.contains("login: each of the 2 callers logs in as its own user"),
            "{stdout}"
        );
        let users: Vec<String> = sqlx::query_scalar("SELECT email FROM users ORDER BY email")
            .fetch_all(app.db.pool())
            .await
            .unwrap();
        assert_eq!(users.len(), 3, "{users:?}");
        assert!(
            users.iter().filter(|e| e.starts_with("caller-")).count() == 2,
            "{users:?}"
        );
        assert!(stdout.contains("Login: n=16 unexpected=0 "), "{stdout}");
        let line = |prefix: &str| line_starting(&stdout, prefix);
        // One verification alone, timed before the run and after it.
        let verify = line("Argon2id verify");
        assert!(verify.contains("(m=7168,t=5,p=1)"), "{verify}");
        let (before, after) = before_and_after(verify, " ms");
        assert!(before > 0.0 && after > 0.0, "{verify}");
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        let computed = number_in(verify, &format!("{cores} cores / one verify = "));
        // One per core side by side (the limit), before and after too.
        let at_once = line(&format!("Argon2id, {cores} verifications at once:"));
        let (before, after) = before_and_after(at_once, "/s");
        assert!(before > 0.0 && after > 0.0, "{at_once}");
        let limit = number_in(at_once, "verifications at once:");
        assert!((limit - (before + after) / 2.0).abs() <= 1.0, "{at_once}");
        // The logins' ratio to each, as the logins per second make it.
        let logins = line("Login x16 from 2 callers in ");
        let per_second = number_in(logins, " (");
        for (ratio, of) in [
            (format!("Login / Argon2 limit ({cores} at once):"), limit),
            (format!("Login / {cores} cores / one verify:"), computed),
        ] {
            let ratio = number_after(&stdout, &ratio);
            assert!(
                ratio > 0.0 && (ratio - per_second / of).abs() <= 0.05 * ratio.max(1.0),
                "{ratio} against {per_second}/s of {of}/s:\n{stdout}"
            );
        }
        // Where the logins' CPU went: the hashing threads took some (16
        // verifications, a few ms each), and no more than the whole server.
        let cpu = cpu_line(&stdout);
        let server = time_after(&cpu, "server ");
        let argon2 = time_after(&cpu, "(Argon2 threads ");
        assert!(argon2 > 0.0 && argon2 <= server, "{cpu}");
    })
    .await;
}

/// The CPU line of a bench report.
fn cpu_line(stdout: &str) -> String {
    stdout
        .lines()
        .find(|l| {
            l.trim_start()
                .starts_with("CPU per request (user + system): ")
        })
        .unwrap_or_else(|| panic!("no CPU line:\n{stdout}"))
        .to_owned()
}

/// The time in `line` right after `prefix` (`12.3 ms` or `45 us`), in ms.
fn time_after(line: &str, prefix: &str) -> f64 {
    let rest = line
        .split_once(prefix)
        .unwrap_or_else(|| panic!("no {prefix:?}: {line}"))
        .1;
    let mut words = rest.split_whitespace();
    let value: f64 = words.next().unwrap().parse().unwrap();
    match words.next().map(|u| u.trim_end_matches([',', ')'])) {
        Some("ms") => value,
        Some("us") => value / 1000.0,
        unit => panic!("unit {unit:?}: {line}"),
    }
}

/// Postgres round trips per operation, counted from the statements sqlx
/// logs (at debug, under the request's span and correlation id) once each
/// connection has its statements prepared: a bearer read is one round trip
/// (no ping before a pooled connection is used, the tenant scope sent with
/// the query), and a write takes one for `BEGIN` with its tenant scope,
/// one per statement and one for `COMMIT`. The table is
/// printed; the bounds below are today's counts, so a change that adds a
/// round trip fails here and has to say why.
#[tokio::test]
async fn postgres_round_trips_per_operation() {
    with_app_opts(Options::without_workers(), async |app| {
        let mut serve = app
            .serve_process_with(
                OLYMPUS,
                &[],
                &[
                    ("OLYMPUS_LOG", "info,sqlx::query=debug"),
                    ("OLYMPUS_LOG_FORMAT", "text"),
                    // One connection, so that the warm-up prepares its statements.
                    ("OLYMPUS_DB_MAX_CONNECTIONS", "1"),
                ],
            )
            .await;
        let owner = app.signup(Encoding::Json).await;
        let token = owner.access_token.clone();
        let product = app
            .create_product(&token, "RT-1", "Round trips", money(100, "EUR"))
            .with("stock", 1000)
            .await
            .ok()["product"]["id"]
            .clone();
        let mut refresh_token = owner.refresh_token.clone();
        let mut round = 0;
        let mut counts = Vec::new();
        // Twice each: the first prepares, the second is counted.
        for pass in 0..2 {
            // Each call with a correlation id of its own (its key too).
            let mut run = async |call: Call<'_>, keyed: bool| {
                round += 1;
                let correlation = format!("rt-{round}");
                let mut call = call.header("X-Correlation-Id", &correlation);
                if keyed {
                    call = call.key(&correlation);
                }
                let reply = call.await.ok();
                (correlation, reply)
            };
            let mut measured = Vec::new();
            measured.push(("auth.me", run(app.me(&token), false).await.0));
            measured.push(("tenant.get", run(app.get_tenant(&token), false).await.0));
            let (id, reply) = run(app.refresh(&refresh_token), false).await;
            refresh_token = reply["tokens"]["refresh_token"]
                .as_str()
                .unwrap()
                .to_owned();
            measured.push(("auth.refresh", id));
            let login = app.login(&owner.slug, &owner.email, GOOD_PASSWORD);
            measured.push(("auth.login", run(login, false).await.0));
            let order = || app.create_order(&token, &[(&product, 1)]);
            measured.push(("commerce.orders.create", run(order(), false).await.0));
            measured.push(("commerce.orders.create (keyed)", run(order(), true).await.0));
            if pass == 1 {
                counts = measured;
            }
        }
        // Work done after the reply (e.g. last_login_at) is logged late.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert!(serve.terminate().await.success());
        let mut table = Vec::new();
        for (op, correlation) in counts {
            // The field ends with a space, or with the span's brace.
            let field = [
                format!("correlation_id={correlation} "),
                format!("correlation_id={correlation}}}"),
            ];
            let statements: Vec<&String> = serve
                .log
                .iter()
                .filter(|l| l.contains("sqlx::query") && field.iter().any(|f| l.contains(f)))
                .collect();
            // sqlx logs every statement but BEGIN (with the tenant scope,
            // one message): each transaction's COMMIT or ROLLBACK stands
            // for its BEGIN's round trip.
            let transactions = statements
                .iter()
                .filter(|l| l.contains("summary=\"COMMIT\"") || l.contains("summary=\"ROLLBACK\""))
                .count();
            table.push((op, statements.len() + transactions));
        }
        eprintln!("Postgres round trips per operation:");
        for (op, n) in &table {
            eprintln!("  {op}: {n}");
        }
        let bound = |op: &str| match op {
            "auth.me" | "tenant.get" | "auth.refresh" => 1,
            "auth.login" => 2,
            "commerce.orders.create" => 5,
            _ => 9,
        };
        for (op, n) in &table {
            assert!(*n >= 1, "{op}: no statement logged: {table:?}");
            assert!(*n <= bound(op), "{op}: {n} round trips: {table:?}");
        }
    })
    .await;
}
