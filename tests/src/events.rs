//! Reading what Olympus published: events and mail, as a subscriber would.

use async_nats::jetstream::consumer::{pull, AckPolicy, DeliverPolicy};
use async_nats::HeaderMap;
use futures::StreamExt;
use serde_json::Value;
use std::time::Duration;

use crate::app::TestApp;
use crate::client::Signup;

/// A message read from a stream.
#[derive(Debug, Clone)]
pub struct Published {
    pub subject: String,
    pub headers: HeaderMap,
    pub payload: Vec<u8>,
    pub body: Value,
}

impl Published {
    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.as_str())
    }
}

/// Everything in `stream` on `filter` (from the start), read until `count`
/// messages arrived and nothing more came for a moment; panics after
/// `timeout` with fewer than `count`.
pub async fn read_stream(
    nats: &async_nats::Client,
    stream: &str,
    filter: &str,
    count: usize,
    timeout: Duration,
) -> Vec<Published> {
    {
        let js = async_nats::jetstream::new(nats.clone());
        // Explicit acks, as work-queue streams (mail) require.
        let stream_handle = js.get_stream(stream).await.expect("stream");
        let consumer = stream_handle
            .create_consumer(pull::Config {
                filter_subject: filter.to_owned(),
                deliver_policy: DeliverPolicy::All,
                ack_policy: AckPolicy::Explicit,
                inactive_threshold: Duration::from_secs(30),
                ..Default::default()
            })
            .await
            .expect("consumer");
        let mut messages = consumer.messages().await.expect("messages");
        let mut read = Vec::new();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            // Past `count`, linger briefly to catch duplicates.
            let wait = if read.len() >= count {
                tokio::time::Instant::now() + Duration::from_millis(300)
            } else {
                deadline
            };
            match tokio::time::timeout_at(wait, messages.next()).await {
                Ok(Some(Ok(message))) => {
                    message.ack().await.expect("ack");
                    read.push(Published {
                        subject: message.subject.to_string(),
                        headers: message.headers.clone().unwrap_or_default(),
                        payload: message.payload.to_vec(),
                        body: serde_json::from_slice(&message.payload).unwrap_or(Value::Null),
                    });
                }
                Ok(Some(Err(e))) => panic!("reading {stream}: {e}"),
                Ok(None) | Err(_) => break,
            }
        }
        // Gone at once, so that the work-queue mail stream accepts the
        // next reader with the same filter.
        drop(messages);
        let name = consumer.cached_info().name.clone();
        let _ = stream_handle.delete_consumer(&name).await;
        assert!(
            read.len() >= count,
            "expected {count} messages on {filter} within {timeout:?}, got {}: {:?}",
            read.len(),
            read.iter().map(|m| &m.subject).collect::<Vec<_>>()
        );
        read
    }
}

impl TestApp {
    /// Waits until the outbox holds no unpublished row (a relay published
    /// and marked everything); past `within`, how many are left.
    pub async fn outbox_published(&self, within: Duration) -> Result<(), i64> {
        crate::wait_for_zero(
            self.db.pool(),
            "SELECT count(*) FROM outbox WHERE published_at IS NULL",
            within,
        )
        .await
    }

    /// The mail on `{prefix}.mail.{tenant_or_*}.{template_or_>}`; waits for
    /// at least `count` (and acknowledges it: the mail stream is a work queue).
    pub async fn mail(
        &self,
        tenant: Option<&str>,
        template: Option<&str>,
        count: usize,
    ) -> Vec<Published> {
        let filter = format!(
            "{}.mail.{}.{}",
            self.prefix,
            tenant.unwrap_or("*"),
            template.unwrap_or(">")
        );
        read_stream(
            &self.nats,
            &self.subjects.mail_stream(),
            &filter,
            count,
            Duration::from_secs(10),
        )
        .await
    }

    /// The events on `{prefix}.events.{tenant_or_*}.{type_or_>}`; waits for
    /// at least `count`.
    pub async fn events(
        &self,
        tenant: Option<&str>,
        event_type: Option<&str>,
        count: usize,
    ) -> Vec<Published> {
        let filter = format!(
            "{}.events.{}.{}",
            self.prefix,
            tenant.unwrap_or("*"),
            event_type.unwrap_or(">")
        );
        read_stream(
            &self.nats,
            &self.subjects.events_stream(),
            &filter,
            count,
            Duration::from_secs(10),
        )
        .await
    }
}

/// Asserts that the events stream, read through `nats`, holds exactly one
/// `tenant.created` per signup of `signups`, and nothing else of that type.
pub async fn assert_one_tenant_created_each(
    nats: &async_nats::Client,
    app: &TestApp,
    signups: &[&Signup],
) {
    let events = read_stream(
        nats,
        &app.subjects.events_stream(),
        &format!("{}.events.*.tenant.created", app.prefix),
        signups.len(),
        Duration::from_secs(20),
    )
    .await;
    let mut tenants: Vec<String> = events
        .iter()
        .map(|e| e.body["tenant_id"].as_str().unwrap().to_owned())
        .collect();
    tenants.sort_unstable();
    let mut expected: Vec<String> = signups.iter().map(|s| s.tenant_id.clone()).collect();
    expected.sort_unstable();
    assert_eq!(tenants, expected, "each exactly once");
}
