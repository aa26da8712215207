//! docker-compose.yml, run for real: Postgres, NATS with
//! `nats/nats-server.conf`, `olympus migrate`, `olympus serve` and the
//! gateway, each in its container, with secrets from an env file; a user
//! signs up through the gateway, the event reaches a subscriber through
//! the `services` user, and the metrics port counts the request.
//!
//! Needs a Docker engine, `docker-compose` (Debian's 1.29 or v2's
//! `docker compose`) and the images of `tools/docker/build-images`;
//! `tools/test` builds those and skips this module, saying so, on a machine
//! where no Docker engine answers. The olympus and gateway images are made
//! here from the binaries this run built (tools/docker/olympus,
//! tools/docker/gateway) rather than compiled again in a container.

use base64::Engine;
use futures::StreamExt;
use olympus_tests::client::GOOD_PASSWORD;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

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
    for image in [
        "olympus-base:bookworm",
        "postgres:15-alpine",
        "nats:2.15-alpine",
    ] {
        let present = Command::new("docker")
            .args(["image", "inspect", image])
            .output()
            .is_ok_and(|o| o.status.success());
        assert!(present, "no image {image}: run tools/docker/build-images");
    }
}

/// Builds `tag` from `tools/docker/{recipe}/Dockerfile` with `binary`
/// copied into the context as `name`.
fn image_from_binary(tag: &str, recipe: &str, binary: &str, name: &str) {
    let context = Scratch::new();
    std::fs::copy(
        format!("{ROOT}/tools/docker/{recipe}/Dockerfile"),
        context.0.join("Dockerfile"),
    )
    .unwrap();
    std::fs::copy(binary, context.0.join(name)).unwrap();
    run(Command::new("docker")
        .args(["build", "-q", "-t", tag])
        .arg(&context.0));
}

/// A folder of this test's, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Self {
        let path = std::env::temp_dir().join(format!("olympus-e2e-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&path).unwrap();
        Self(path)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// 32 random bytes (two v4 UUIDs: 244 random bits), in hex, as
/// `.env.example` says passwords are made (they go into URLs).
fn password() -> String {
    format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

/// A signing key as `.env.example` says it is made (base64).
fn signing_key() -> String {
    let bytes = [
        uuid::Uuid::new_v4().into_bytes(),
        uuid::Uuid::new_v4().into_bytes(),
    ]
    .concat();
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// One compose project, taken down with its volumes when dropped.
struct Stack {
    compose: Vec<String>,
    /// Holds the env file.
    scratch: Scratch,
}

impl Stack {
    fn env_file(&self) -> PathBuf {
        self.scratch.0.join(".env")
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(&self.compose[0]);
        command
            .args(&self.compose[1..])
            .arg("--env-file")
            .arg(self.env_file())
            .args(args)
            .current_dir(ROOT);
        command
    }

    /// The last `tail` lines each container logged ("all" for all).
    fn logs_tail(&self, tail: &str) -> String {
        self.command(&["logs", "--no-color", "--tail", tail])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
    }

    fn logs(&self) -> String {
        self.logs_tail("40")
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        let _ = self
            .command(&["down", "--volumes", "--remove-orphans", "--timeout", "10"])
            .output();
    }
}

/// `docker compose` (v2) where it is installed, else `docker-compose`.
fn compose_program() -> Vec<String> {
    let v2 = Command::new("docker")
        .args(["compose", "version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if v2 {
        vec!["docker".into(), "compose".into()]
    } else {
        vec!["docker-compose".into()]
    }
}

#[tokio::test]
async fn the_compose_stack_serves_a_signup_through_the_gateway() {
    docker_is_running();
    image_from_binary("olympus:local", "olympus", OLYMPUS, "olympus");
    let gateway = olympus_tests::gateway::binary().await;
    image_from_binary(
        "olympus-gateway:local",
        "gateway",
        gateway,
        "olympus-gateway",
    );

    let (nats_port, gateway_port, metrics_port) = (
        olympus_tests::free_port(),
        olympus_tests::free_port(),
        olympus_tests::free_port(),
    );
    let services_password = password();
    let mut env = String::new();
    for name in [
        "POSTGRES_PASSWORD",
        "OLYMPUS_APP_DB_PASSWORD",
        "NATS_OLYMPUS_PASSWORD",
        "NATS_RELAY_PASSWORD",
        "NATS_GATEWAY_1_PASSWORD",
        "NATS_MAILER_PASSWORD",
    ] {
        env.push_str(&format!("{name}={}\n", password()));
    }
    env.push_str(&format!("NATS_SERVICES_PASSWORD={services_password}\n"));
    env.push_str(&format!("OLYMPUS_JWT_KEYS=k1:{}\n", signing_key()));
    env.push_str(&format!(
        "OLYMPUS_NATS_PORT={nats_port}\nOLYMPUS_GATEWAY_PORT={gateway_port}\nOLYMPUS_METRICS_PORT={metrics_port}\n"
    ));
    let scratch = Scratch::new();
    std::fs::write(scratch.0.join(".env"), env).unwrap();
    let project = format!("olympus-e2e-{}", std::process::id());
    let mut compose = compose_program();
    compose.extend(["-p".into(), project]);
    compose.extend(["-f".into(), format!("{ROOT}/docker-compose.yml")]);
    let stack = Stack { compose, scratch };

    // `up` returns once the gateway started, i.e. after migrate succeeded
    // and olympus reported ready (the health checks the file declares).
    let up = stack.command(&["up", "-d", "--no-build"]).output().unwrap();
    assert!(
        up.status.success(),
        "compose up failed:\n{}\n{}",
        String::from_utf8_lossy(&up.stderr),
        stack.logs()
    );
    let gateway_addr = format!("127.0.0.1:{gateway_port}");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let ready = async {
            tokio::net::TcpStream::connect(&gateway_addr).await.ok()?;
            Some(
                olympus_tests::http::request(&gateway_addr, "GET", "/readyz", &[], b"")
                    .await
                    .0,
            )
        };
        if ready.await == Some(200) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the gateway was not ready within 60 s:\n{}",
            stack.logs()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    // A subscriber as the Python services connect: the services user, its
    // own inbox prefix, a durable consumer of OLYMPUS_EVENTS (the copy in
    // the subscribers' own account, which `serve` created).
    let subscriber =
        async_nats::ConnectOptions::with_user_and_password("services".into(), services_password)
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

    let metrics_addr = format!("127.0.0.1:{metrics_port}");
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
    let env_text = std::fs::read_to_string(stack.env_file()).unwrap();
    for line in env_text.lines().filter(|l| !l.contains("_PORT=")) {
        let value = line.split_once('=').unwrap().1;
        let value = value.strip_prefix("k1:").unwrap_or(value);
        assert!(!logs.contains(value), "a secret is in the logs");
    }
    assert!(!logs.contains(GOOD_PASSWORD), "a password is in the logs");
}
