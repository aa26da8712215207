//! The `olympus` command as a person meets it: an error says what is wrong
//! and what to do, and a tenant may be named as people know it.

use olympus_tests::{with_app, Encoding};
use std::process::Output;
use std::time::Duration;

use crate::OLYMPUS;

/// Runs `olympus ARGS` with only `env` (and PATH, HOME) set.
pub(crate) async fn olympus(args: &[&str], env: &[(&str, &str)]) -> Output {
    let home = std::env::temp_dir().join(format!("olympus-cli-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&home).unwrap();
    let output = tokio::process::Command::new(OLYMPUS)
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", &home)
        .envs(env.iter().copied())
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .expect("running olympus");
    let _ = std::fs::remove_dir_all(&home);
    output
}

pub(crate) fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[tokio::test]
async fn a_mistyped_operation_is_answered_with_what_was_meant() {
    let typo = olympus(&["call", "commerce.order.create", "{}"], &[]).await;
    assert_eq!(typo.status.code(), Some(1));
    assert!(
        stderr(&typo).starts_with(
            "olympus call: no operation \"commerce.order.create\"; did you mean commerce.orders.create?"
        ),
        "{}",
        stderr(&typo)
    );
    // Nothing close: every name, once.
    let unknown = olympus(&["call", "frobnicate", "{}"], &[]).await;
    assert_eq!(unknown.status.code(), Some(1));
    assert!(stderr(&unknown).contains("the operations are: auth.register, auth.login"));
    assert!(
        !stderr(&unknown).contains("stopped with an error"),
        "{}",
        stderr(&unknown)
    );
}

#[tokio::test]
async fn a_call_nobody_answers_says_to_start_serve_or_fix_the_prefix() {
    with_app(async |app| {
        // A subject form of the name is accepted too.
        let out = olympus(
            &[
                "call",
                "auth.v1.login",
                r#"{"tenant":"a","email":"a@b.c","password":"x"}"#,
            ],
            &[
                ("NATS_URL", &app.nats_url),
                ("OLYMPUS_SUBJECT_PREFIX", "nobody-serves-this"),
            ],
        )
        .await;
        assert_eq!(out.status.code(), Some(1));
        let err = stderr(&out);
        assert!(
            err.contains("no worker answers nobody-serves-this.auth.v1.login"),
            "{err}"
        );
        assert!(
            err.contains("hint: start `olympus serve`") && err.contains("OLYMPUS_SUBJECT_PREFIX"),
            "{err}"
        );
        // Connection chatter stays out of a command's output.
        assert!(!err.contains("connected successfully"), "{err}");
    })
    .await;
}

#[tokio::test]
async fn events_tail_takes_a_tenant_by_slug_or_by_id() {
    with_app(async |app| {
        let signup = app.signup(Encoding::Json).await;
        let other = app.signup(Encoding::Json).await;
        let env = [
            ("NATS_URL", app.nats_url.as_str()),
            ("OLYMPUS_SUBJECT_PREFIX", app.prefix.as_str()),
            ("DATABASE_URL", app.database_url.as_str()),
        ];
        for tenant in [signup.slug.as_str(), signup.tenant_id.as_str()] {
            let out = tokio::time::timeout(
                Duration::from_secs(20),
                olympus(
                    &[
                        "events",
                        "tail",
                        "--tenant",
                        tenant,
                        "--from-start",
                        "--type",
                        "tenant.created",
                        "--count",
                        "1",
                    ],
                    &env,
                ),
            )
            .await
            .expect("events tail ends after --count");
            assert!(out.status.success(), "{}", stderr(&out));
            let line: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            assert_eq!(
                line["tenant_id"],
                signup.tenant_id.as_str(),
                "--tenant {tenant}"
            );
            assert_ne!(line["tenant_id"], other.tenant_id.as_str());
        }
        let out = olympus(
            &["events", "tail", "--tenant", "no-such-slug", "--count", "1"],
            &env,
        )
        .await;
        assert_eq!(out.status.code(), Some(1));
        assert!(
            stderr(&out).contains("no tenant has the slug \"no-such-slug\""),
            "{}",
            stderr(&out)
        );
    })
    .await;
}

#[tokio::test]
async fn a_nats_server_without_jetstream_is_named_with_the_flag_that_fixes_it() {
    let port = olympus_tests::free_port();
    let mut server = tokio::process::Command::new(
        std::env::var("NATS_SERVER_BIN").unwrap_or_else(|_| "nats-server".into()),
    )
    .args(["-a", "127.0.0.1", "-p", &port.to_string()])
    .stdout(std::process::Stdio::null())
    .stderr(std::process::Stdio::null())
    .kill_on_drop(true)
    .spawn()
    .expect("nats-server");
    let url = format!("nats://127.0.0.1:{port}");
    assert!(
        olympus_tests::listening(port, Duration::from_secs(5)).await,
        "nats-server did not listen"
    );
    let out = olympus(&["events", "tail", "--count", "1"], &[("NATS_URL", &url)]).await;
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("opening stream OLYMPUS_EVENTS"), "{err}");
    assert!(
        err.contains("JetStream is off on this NATS server: start nats-server with -js"),
        "{err}"
    );
    let _ = server.kill().await;
}

/// `NATS_URL` may list a cluster's servers, separated by commas: `serve`
/// connects to one that answers (the first here does not).
#[tokio::test]
async fn serve_takes_a_list_of_nats_servers() {
    olympus_tests::with_app_opts(olympus_tests::Options::without_workers(), async |app| {
        let nobody = format!("nats://127.0.0.1:{}", olympus_tests::free_port());
        let listed = format!("{nobody}, {}", app.nats_url);
        let mut serve = app
            .serve_process_with(OLYMPUS, &[], &[("NATS_URL", &listed)])
            .await;
        app.signup(Encoding::Json).await;
        assert!(serve.terminate().await.success());
    })
    .await;
}

/// On a nats-server older than 2.10.23, `serve` with a relay user of its
/// own (the production configuration) refuses to start, saying why;
/// without one (development) it warns and serves; `doctor` warns.
#[tokio::test]
async fn an_old_nats_server_is_refused_in_production_and_named_in_development() {
    olympus_tests::with_app_opts(olympus_tests::Options::without_workers(), async |app| {
        let version = app.nats.server_info().version;
        if olympus_runtime::nats::older_than_recommended(&version) != Some(true) {
            eprintln!("nats-server {version} is recent: nothing to refuse here");
            return;
        }
        let config = app.config();
        let out = olympus(
            &["serve"],
            &[
                ("DATABASE_URL", &config.database_url),
                ("NATS_URL", &app.nats_url),
                ("OLYMPUS_RELAY_NATS_URL", &app.nats_url),
                ("OLYMPUS_SUBJECT_PREFIX", &app.prefix),
                (
                    "OLYMPUS_KEY_ENCRYPTION_KEY",
                    olympus_tests::app::TEST_KEY_ENCRYPTION_KEY,
                ),
            ],
        )
        .await;
        assert_eq!(out.status.code(), Some(1));
        let err = stderr(&out);
        assert!(
            err.contains(&format!("nats-server {version} is older than 2.10.23")),
            "{err}"
        );
        assert!(err.contains("upgrade nats-server"), "{err}");

        let mut serve = app.serve_process(OLYMPUS, &[]).await;
        assert!(
            serve
                .log
                .iter()
                .any(|l| l.contains("fine for development, not for production")),
            "{:?}",
            serve.log
        );
        assert!(serve.terminate().await.success());
        let doctor = olympus(
            &["doctor"],
            &[
                ("DATABASE_URL", &config.database_url),
                ("NATS_URL", &app.nats_url),
            ],
        )
        .await;
        let report = String::from_utf8_lossy(&doctor.stdout);
        assert!(
            report.contains("warn  nats: ") && report.contains(&format!("nats-server {version}")),
            "{report}"
        );
    })
    .await;
}

/// `olympus drill` runs the mixed load, makes the fault and ends it with
/// the operator's commands at their moments (here: freezing and thawing
/// the one `serve`), and reports what callers saw and the events.
#[tokio::test]
async fn a_drill_makes_its_fault_and_reports_what_callers_saw() {
    olympus_tests::with_app_opts(olympus_tests::Options::without_workers(), async |app| {
        let mut serve = app.serve_process(OLYMPUS, &[]).await;
        let pid = serve.pid().to_string();
        let config = app.config();
        let out = tokio::time::timeout(
            Duration::from_secs(60),
            olympus(
                &[
                    "drill",
                    "--fault",
                    &format!("kill -STOP {pid}"),
                    "--fault-at",
                    "2s",
                    "--recover",
                    &format!("kill -CONT {pid}"),
                    "--recover-after",
                    "2s",
                    "--duration",
                    "7s",
                    "--timeout",
                    "1s",
                    "--concurrency",
                    "4",
                ],
                &[
                    ("NATS_URL", &app.nats_url),
                    ("OLYMPUS_SUBJECT_PREFIX", &app.prefix),
                    ("DATABASE_URL", &config.database_url),
                ],
            ),
        )
        .await
        .expect("the drill ends");
        let report = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(out.status.success(), "{report}\n{}", stderr(&out));
        let line = |start: &str| {
            report
                .lines()
                .find(|l| l.starts_with(start))
                .unwrap_or_else(|| panic!("no {start} line in:\n{report}"))
                .to_owned()
        };
        assert!(
            line("fault: t=2.").ends_with(&format!("ok: kill -STOP {pid}")),
            "{report}"
        );
        assert!(
            line("recovery: t=4.").ends_with(&format!("ok: kill -CONT {pid}")),
            "{report}"
        );
        let failures = line("failures: ");
        assert!(failures.contains("timeout="), "{failures}");
        assert!(
            line("events: order.placed=").ends_with("lost=0 doubled=0"),
            "{report}"
        );
        assert!(
            report.contains("timeline (by the second each request was sent):"),
            "{report}"
        );
        assert!(serve.terminate().await.success());
    })
    .await;
}

/// A relay user that cannot connect makes doctor fail, naming the setting,
/// rather than skip the streams it could not look at.
#[tokio::test]
async fn doctor_fails_when_the_relays_nats_user_cannot_connect() {
    olympus_tests::with_app_opts(olympus_tests::Options::without_workers(), async |app| {
        let config = app.config();
        let nobody = format!(
            "nats://relay:wrong@127.0.0.1:{}",
            olympus_tests::free_port()
        );
        let out = olympus(
            &["doctor"],
            &[
                ("DATABASE_URL", &config.database_url),
                ("NATS_URL", &app.nats_url),
                ("OLYMPUS_RELAY_NATS_URL", &nobody),
                ("OLYMPUS_SUBJECT_PREFIX", &app.prefix),
            ],
        )
        .await;
        let report = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(1), "{report}");
        let line = report
            .lines()
            .find(|l| l.starts_with("FAIL  relay's nats"))
            .unwrap_or_else(|| panic!("{report}"));
        assert!(!line.contains("wrong"), "the password is shown: {line}");
        assert!(report.contains("check OLYMPUS_RELAY_NATS_URL"), "{report}");
    })
    .await;
}
