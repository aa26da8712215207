//! The JetStream streams the relay publishes into, and what a deployment
//! with separate NATS accounts for subscribers and the mailer needs beside
//! them (nats/nats-server.conf, nats/README.md): the subscribers' copy of
//! the events stream and the mailer's consumer.

use async_nats::jetstream::{self, consumer, stream};
use olympus_contracts::Subjects;
use std::time::Duration;

/// Stream settings.
#[derive(Debug, Clone)]
pub struct StreamSettings {
    /// How long the events stream keeps events.
    pub events_max_age: Duration,
    /// Replicas of both streams (3 on a 3-node cluster).
    pub replicas: usize,
    /// The subscribers' account's JetStream API as the relay reaches it
    /// (`OLYMPUS_SUBSCRIBERS_API`): a copy of the events stream is kept there.
    pub subscribers_api: Option<String>,
    /// The mailer's durable pull consumer of the mail stream
    /// (`OLYMPUS_MAILER_CONSUMER`), created here.
    pub mailer_consumer: Option<String>,
}

impl StreamSettings {
    /// The settings `config` gives.
    pub fn from_config(config: &crate::config::Config) -> Self {
        let set = |value: &Option<String>| {
            value
                .as_deref()
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
        };
        Self {
            events_max_age: std::time::Duration::from_secs(config.events_max_age),
            replicas: config.stream_replicas.max(1),
            subscribers_api: set(&config.subscribers_api),
            mailer_consumer: set(&config.mailer_consumer),
        }
    }
}

/// The duplicate window of both streams: a re-published row within it is
/// dropped by JetStream.
pub const DUPLICATE_WINDOW: Duration = Duration::from_secs(120);

/// Creates or updates `{PREFIX}_EVENTS` and `{PREFIX}_MAIL`.
pub async fn ensure_streams(
    js: &jetstream::Context,
    subjects: &Subjects,
    settings: &StreamSettings,
) -> anyhow::Result<()> {
    let streams = [
        stream::Config {
            name: subjects.events_stream(),
            description: Some("Olympus domain events".to_owned()),
            subjects: vec![subjects.events_wildcard()],
            retention: stream::RetentionPolicy::Limits,
            storage: stream::StorageType::File,
            max_age: settings.events_max_age,
            duplicate_window: DUPLICATE_WINDOW,
            num_replicas: settings.replicas,
            ..Default::default()
        },
        stream::Config {
            name: subjects.mail_stream(),
            description: Some("Olympus mail for the mailer".to_owned()),
            subjects: vec![subjects.mail_wildcard()],
            retention: stream::RetentionPolicy::WorkQueue,
            storage: stream::StorageType::File,
            max_age: Duration::from_secs(7 * 24 * 3600),
            duplicate_window: DUPLICATE_WINDOW,
            num_replicas: settings.replicas,
            ..Default::default()
        },
    ];
    for config in streams {
        let name = config.name.clone();
        js.create_or_update_stream(config)
            .await
            .map_err(|e| anyhow::anyhow!("creating or updating stream {name}: {e}"))?;
    }
    if let Some(api) = &settings.subscribers_api {
        let theirs = jetstream::with_prefix(js.client(), api);
        let name = subjects.events_stream();
        theirs
            .create_or_update_stream(subscribers_copy(subjects, settings))
            .await
            .map_err(|e| {
                anyhow::anyhow!("creating or updating the subscribers' copy of {name} through {api} (OLYMPUS_SUBSCRIBERS_API): {e}")
            })?;
    }
    if let Some(name) = &settings.mailer_consumer {
        let stream = subjects.mail_stream();
        js.create_consumer_on_stream(
            consumer::pull::Config {
                durable_name: Some(name.clone()),
                description: Some("the mailer's (OLYMPUS_MAILER_CONSUMER)".to_owned()),
                ack_policy: consumer::AckPolicy::Explicit,
                ..Default::default()
            },
            &stream,
        )
        .await
        .map_err(|e| {
            anyhow::anyhow!(
                "creating the mailer's consumer {name} of {stream} (OLYMPUS_MAILER_CONSUMER): {e}"
            )
        })?;
    }
    Ok(())
}

/// The subscribers' copy of the events stream: same name and retention,
/// sourced from the events stream across accounts. It takes no subjects of
/// its own: nothing in their account publishes events, so nothing there
/// should be able to add one.
fn subscribers_copy(subjects: &Subjects, settings: &StreamSettings) -> stream::Config {
    stream::Config {
        name: subjects.events_stream(),
        description: Some("Olympus domain events, the subscribers' copy".to_owned()),
        sources: Some(vec![stream::Source {
            name: subjects.events_stream(),
            external: Some(stream::External {
                api_prefix: format!("$JS.{}.API", subjects.prefix()),
                delivery_prefix: Some(format!("{}.deliver.subscribers", subjects.prefix())),
            }),
            ..Default::default()
        }]),
        retention: stream::RetentionPolicy::Limits,
        storage: stream::StorageType::File,
        max_age: settings.events_max_age,
        duplicate_window: DUPLICATE_WINDOW,
        num_replicas: settings.replicas,
        ..Default::default()
    }
}
