//! The JetStream streams the relay publishes into.

use async_nats::jetstream::{self, stream};
use olympus_contracts::Subjects;
use std::time::Duration;

/// Stream settings.
#[derive(Debug, Clone)]
pub struct StreamSettings {
    /// How long the events stream keeps events.
    pub events_max_age: Duration,
    /// Replicas of both streams (3 on a 3-node cluster).
    pub replicas: usize,
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
    Ok(())
}
