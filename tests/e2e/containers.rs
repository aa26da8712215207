//! The README's Compose section, run for real, command by command, in a
//! copy of the files it uses: `tools/docker/build-images --olympus` (with
//! the binaries this run built, through OLYMPUS_BINARY and
//! OLYMPUS_GATEWAY_BINARY, instead of a release build), `tools/docker/new-env
//! > .env`, `docker-compose up -d` and the readiness check. Then Postgres,
//! NATS with `nats/nats-server.conf`, `olympus migrate`, `olympus serve`
//! and the gateway are each in their container: a user signs up through
//! the gateway, the event reaches a subscriber through the `services` user,
//! the metrics port counts the request, and nothing secret is logged; the
//! README's `down` ends it.
//!
//! Needs a Docker engine and Debian's `docker-compose` (1.29, which
//! `tools/test` installs; the README's commands name it); `tools/test`
//! skips this module, saying so, on a machine where no Docker engine
//! answers.

use futures::StreamExt;
use olympus_tests::client::GOOD_PASSWORD;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::OLYMPUS;

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");

/// Runs a command to completion; panics with its output when it fails.
fn run(command: &mut Command) -> String {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("{command:?}: {e}"));
    assert!(
        output.status.success(),
        "{command:?} failed:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn docker_is_running() {
    let info = Command::new("docker").arg("info").output();
    assert!(
        info.is_ok_and(|o| o.status.success()),
        "these tests need a Docker engine (`docker info` fails); tools/test skips them \
         when none answers"
    );
}

/// The commands of the README's first `sh` block after `heading`, one per
/// line (continuations joined), comments dropped.
fn readme_commands(heading: &str) -> Vec<String> {
    let readme = std::fs::read_to_string(format!("{ROOT}/README.md")).unwrap();
    let section = readme
        .split(heading)
        .nth(1)
        .unwrap_or_else(|| panic!("no {heading} in README.md"));
    let block = section
        .split("```sh\n")
        .nth(1)
        .unwrap()
        .split("```")
        .next()
        .unwrap();
    let mut commands = Vec::new();
    let mut pending = String::new();
    for line in block.lines() {
        // A comment starts at `  # ` (none of these commands quotes one).
        let line = line.split("  # ").next().unwrap().trim_end();
        if let Some(joined) = line.strip_suffix('\\') {
            pending.push_str(joined);
            continue;
        }
        pending.push_str(line);
        if !pending.trim().is_empty() {
            commands.push(std::mem::take(&mut pending).trim().to_owned());
        }
        pending.clear();
    }
    commands
}

/// Copies `from` (a file or a folder) to `to`, keeping modes.
fn copy(from: &Path, to: &Path) {
    run(Command::new("cp").arg("-a").arg(from).arg(to));
}

/// A folder of this test's, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Self {
        let path =
            std::env::temp_dir().join(format!("olympus-e2e-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&path).unwrap();
        Self(path)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The compose project of a copy of the repository's files, taken down
/// with its volumes when dropped.
struct Stack {
    dir: Scratch,
}

impl Stack {
    fn compose(&self, args: &[&str]) -> Command {
        let mut command = Command::new("docker-compose");
        command.args(args).current_dir(&self.dir.0);
        command
    }

    /// The last `tail` lines each container logged ("all" for all).
    fn logs_tail(&self, tail: &str) -> String {
        self.compose(&["logs", "--no-color", "--tail", tail])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
    }

    fn logs(&self) -> String {
        self.logs_tail("40")
    }

    /// Runs one of the README's commands here, as `sh` would.
    fn readme(&self, command: &str, env: &[(&str, &str)]) {
        let output = Command::new("sh")
            .args(["-c", command])
            .current_dir(&self.dir.0)
            .envs(env.iter().copied())
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "README: `{command}` failed:\n{}{}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr),
            self.logs()
        );
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        let _ = self
            .compose(&["down", "--volumes", "--remove-orphans", "--timeout", "10"])
            .output();
    }
}

#[tokio::test]
async fn the_readmes_compose_commands_serve_a_signup_through_the_gateway() {
    docker_is_running();
    let commands = readme_commands("## Compose");
    assert!(
        commands.iter().any(|c| c.starts_with("docker-compose up")),
        "{commands:?}"
    );
    let gateway = olympus_tests::gateway::binary().await;
    // What the compose file and the scripts use, as in a checkout.
    let stack = Stack {
        dir: Scratch::new(),
    };
    for path in [
        "docker-compose.yml",
        ".env.example",
        "nats",
        "gateway/requirements-go.txt",
        "tools/docker",
    ] {
        let to = stack.dir.0.join(path);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        copy(&Path::new(ROOT).join(path), &to);
    }
    let env = [
        ("OLYMPUS_BINARY", OLYMPUS),
        ("OLYMPUS_GATEWAY_BINARY", gateway),
    ];
    let (up_to, down) = commands.split_at(
        commands
            .iter()
            .position(|c| c.starts_with("docker-compose down"))
            .expect("a down command"),
    );
    for command in up_to {
        stack.readme(command, &env);
    }
    let dotenv = std::fs::read_to_string(stack.dir.0.join(".env")).unwrap();
    let setting = |name: &str| {
        dotenv
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name}=")))
            .unwrap_or_else(|| panic!("new-env printed no {name}"))
            .to_owned()
    };
    let gateway_addr = format!("127.0.0.1:{}", setting("OLYMPUS_GATEWAY_PORT"));
    let nats_port = setting("OLYMPUS_NATS_PORT");
    let metrics_addr = format!("127.0.0.1:{}", setting("OLYMPUS_METRICS_PORT"));

    // A subscriber as the Python services connect: the services user, its
    // own inbox prefix, a durable consumer of OLYMPUS_EVENTS (the copy in
    // the subscribers' own account, which `serve` created).
    let subscriber = async_nats::ConnectOptions::with_user_and_password(
        "services".into(),
        setting("NATS_SERVICES_PASSWORD"),
    )
    .custom_inbox_prefix("_INBOX_services")
    .connect(format!("nats://127.0.0.1:{nats_port}"))
    .await
    .expect("the services user connects to the compose NATS");

    let email = "ada@compose.example.com";
    let (status, signup) = olympus_tests::http::post_json(
        &gateway_addr,
        "/v1/tenant/create",
        None,
        &json!({"slug": "compose", "name": "Compose", "owner": {"email": email, "password": GOOD_PASSWORD}}),
    )
    .await;
    assert_eq!(status, 200, "{signup}\n{}", stack.logs());
    let token = signup["tokens"]["access_token"].as_str().unwrap();
    let (status, me) =
        olympus_tests::http::post_json(&gateway_addr, "/v1/auth/me", Some(token), &json!({})).await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["user"]["email"], email, "{me}");
    assert_eq!(me["user"]["tenant_id"], signup["tenant"]["id"], "{me}");

    let js = async_nats::jetstream::new(subscriber);
    let consumer = js
        .get_stream("OLYMPUS_EVENTS")
        .await
        .expect("the relay created OLYMPUS_EVENTS")
        .create_consumer(async_nats::jetstream::consumer::pull::Config {
            durable_name: Some("compose-test".into()),
            ack_policy: async_nats::jetstream::consumer::AckPolicy::Explicit,
            ..Default::default()
        })
        .await
        .unwrap();
    let mut messages = consumer.messages().await.unwrap();
    let mut types = Vec::new();
    while !types.iter().any(|t| t == "user.registered") {
        let message = tokio::time::timeout(Duration::from_secs(10), messages.next())
            .await
            .expect("the signup's events within 10 s")
            .unwrap()
            .unwrap();
        message.ack().await.unwrap();
        let event: Value = serde_json::from_slice(&message.payload).unwrap();
        assert_eq!(event["tenant_id"], signup["tenant"]["id"], "{event}");
        types.push(event["type"].as_str().unwrap().to_owned());
    }
    assert!(types.iter().any(|t| t == "tenant.created"), "{types:?}");

    let (status, _, metrics) =
        olympus_tests::http::request(&metrics_addr, "GET", "/metrics", &[], b"").await;
    assert_eq!(status, 200);
    let metrics = String::from_utf8(metrics).unwrap();
    assert!(
        metrics
            .lines()
            .any(|l| l == "olympus_requests_total{operation=\"tenant.create\"} 1"),
        "{metrics}"
    );

    // Nothing secret in what the containers logged.
    let logs = stack.logs_tail("all");
    for line in dotenv
        .lines()
        .filter(|l| !l.starts_with('#') && !l.contains("_PORT="))
    {
        let value = line.split_once('=').unwrap().1;
        let value = value.strip_prefix("k1:").unwrap_or(value);
        assert!(
            value.is_empty() || !logs.contains(value),
            "a secret is in the logs"
        );
    }
    assert!(!logs.contains(GOOD_PASSWORD), "a password is in the logs");

    for command in down {
        stack.readme(command, &[]);
    }
    let left = run(&mut stack.compose(&["ps", "-q"]));
    assert!(
        left.trim().is_empty(),
        "containers left after the README's down: {left}"
    );
}
