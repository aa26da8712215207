//! `olympus events tail`: events from the stream as JSON lines, for operators.

use anyhow::{bail, Context};
use async_nats::jetstream::consumer::{pull, DeliverPolicy};
use chrono::{DateTime, Utc};
use clap::Args;
use futures::StreamExt;
use olympus_contracts::event::EventType;
use olympus_contracts::Subjects;
use std::io::Write;
use uuid::Uuid;

/// Options of `olympus events tail`.
#[derive(Debug, Args)]
pub struct TailArgs {
    #[command(flatten)]
    mesh: olympus_runtime::config::Mesh,

    /// Only this tenant's events: its id, or its slug (looked up in the
    /// database of DATABASE_URL).
    #[arg(long, value_name = "SLUG|ID")]
    tenant: Option<String>,

    /// Postgres, only to find a tenant named by its slug.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = olympus_runtime::config::DEFAULT_DATABASE_URL,
        hide_env_values = true
    )]
    database_url: String,

    /// Only events of this type, e.g. `user.logged_in`.
    #[arg(long = "type", value_name = "TYPE")]
    event_type: Option<String>,

    /// Start at this time (RFC 3339, e.g. 2026-11-29T10:00:00Z) or this long
    /// ago (e.g. 90s, 15m, 2h, 7d). Default: only new events.
    #[arg(long, conflicts_with = "from_start")]
    since: Option<String>,

    /// Start at the oldest event the stream holds.
    #[arg(long)]
    from_start: bool,

    /// Exit after this many events.
    #[arg(long)]
    count: Option<u64>,
}

/// Prints matching events, one JSON object per line, until interrupted
/// (or `--count` events).
pub async fn tail(args: TailArgs) -> anyhow::Result<()> {
    let subjects = Subjects::new(&args.mesh.subject_prefix)?;
    let tenant = match args.tenant.as_deref() {
        Some(tenant) => Some(tenant_id(tenant, &args.database_url).await?),
        None => None,
    };
    let filter = filter_subject(&subjects, tenant, args.event_type.as_deref())?;
    let deliver_policy = match (&args.since, args.from_start) {
        (_, true) => DeliverPolicy::All,
        (Some(since), false) => {
            let start = parse_since(since, Utc::now())?;
            let nanos = i128::from(
                start
                    .timestamp_nanos_opt()
                    .context("--since is out of range")?,
            );
            DeliverPolicy::ByStartTime {
                start_time: async_nats::datetime::from_nanos(nanos)
                    .map_err(|e| anyhow::anyhow!("--since: {e}"))?,
            }
        }
        (None, false) => DeliverPolicy::New,
    };
    let (nats, refusals) =
        crate::hints::connect(&args.mesh.nats_url, "olympus-events-tail", None).await?;
    let js = async_nats::jetstream::new(nats);
    let stream_name = subjects.events_stream();
    let stream = js.get_stream(&stream_name).await.map_err(|err| {
        crate::hints::jetstream(err, &format!("opening stream {stream_name}"), &refusals)
    })?;
    let consumer = stream
        .create_consumer(pull::OrderedConfig {
            filter_subject: filter.clone(),
            deliver_policy,
            ..Default::default()
        })
        .await
        .context("creating an ordered consumer")?;
    tracing::info!(stream = %stream_name, filter = %filter, "tailing events");
    let mut messages = consumer.messages().await.context("reading events")?;
    let mut printed = 0u64;
    let stdout = std::io::stdout();
    while args.count.is_none_or(|count| printed < count) {
        let message = tokio::select! {
            message = messages.next() => message,
            _ = tokio::signal::ctrl_c() => break,
        };
        let Some(message) = message else { break };
        let message = message.context("reading an event")?;
        // One line per event, whatever the payload's formatting.
        let line = match serde_json::from_slice::<serde_json::Value>(&message.payload) {
            Ok(value) => value.to_string(),
            Err(_) => String::from_utf8_lossy(&message.payload).into_owned(),
        };
        let mut out = stdout.lock();
        match writeln!(out, "{line}").and_then(|()| out.flush()) {
            // The reader went away (`| head`): done.
            Err(err) if err.kind() == std::io::ErrorKind::BrokenPipe => break,
            written => written?,
        }
        printed += 1;
    }
    Ok(())
}

/// The id of the tenant `name`d by its id or its slug.
async fn tenant_id(name: &str, database_url: &str) -> anyhow::Result<Uuid> {
    if let Ok(id) = Uuid::parse_str(name) {
        return Ok(id);
    }
    let redacted = olympus_runtime::config::redact_url(database_url);
    let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(database_url)
        .await
        .with_context(|| {
            format!(
                "--tenant {name:?} is a slug, and finding its id needs Postgres ({redacted}): \
                 set DATABASE_URL, or pass the tenant's id"
            )
        })?;
    let id: Option<Uuid> = sqlx::query_scalar("SELECT id FROM olympus_tenant_by_slug($1)")
        .bind(name)
        .fetch_optional(&mut conn)
        .await
        .with_context(|| format!("looking up the tenant {name:?} in {redacted}"))?;
    id.with_context(|| format!("no tenant has the slug {name:?} (in {redacted})"))
}

/// `{prefix}.events.{tenant|*}.{type|>}`.
fn filter_subject(
    subjects: &Subjects,
    tenant: Option<Uuid>,
    event_type: Option<&str>,
) -> anyhow::Result<String> {
    let tenant = tenant.map_or_else(|| "*".to_owned(), |t| t.to_string());
    let event_type = match event_type {
        Some(name) => match EventType::parse(name) {
            Some(t) => t.as_str().to_owned(),
            None => bail!(
                "unknown event type {name:?}; one of: {}",
                EventType::ALL.map(|t| t.as_str()).join(", ")
            ),
        },
        None => ">".to_owned(),
    };
    Ok(format!(
        "{}.events.{tenant}.{event_type}",
        subjects.prefix()
    ))
}

/// An RFC 3339 time, or a duration ago: `90s`, `15m`, `2h`, `7d`.
fn parse_since(value: &str, now: DateTime<Utc>) -> anyhow::Result<DateTime<Utc>> {
    if let Ok(at) = DateTime::parse_from_rfc3339(value) {
        return Ok(at.with_timezone(&Utc));
    }
    let split = value.len().saturating_sub(1);
    let (number, unit) = value.split_at(split);
    let number: i64 = number
        .parse()
        .with_context(|| format!("--since {value:?}: use RFC 3339 or e.g. 90s, 15m, 2h, 7d"))?;
    let ago = match unit {
        "s" => chrono::Duration::seconds(number),
        "m" => chrono::Duration::minutes(number),
        "h" => chrono::Duration::hours(number),
        "d" => chrono::Duration::days(number),
        _ => bail!("--since {value:?}: use RFC 3339 or e.g. 90s, 15m, 2h, 7d"),
    };
    Ok(now - ago)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_narrow_by_tenant_and_type() {
        let s = Subjects::default();
        let t = Uuid::nil();
        assert_eq!(
            filter_subject(&s, None, None).unwrap(),
            "olympus.events.*.>"
        );
        assert_eq!(
            filter_subject(&s, Some(t), Some("user.logged_in")).unwrap(),
            format!("olympus.events.{t}.user.logged_in")
        );
        assert!(filter_subject(&s, None, Some("user.exploded")).is_err());
    }

    #[test]
    fn since_takes_times_and_durations() {
        let now = Utc::now();
        assert_eq!(
            parse_since("15m", now).unwrap(),
            now - chrono::Duration::minutes(15)
        );
        assert_eq!(
            parse_since("7d", now).unwrap(),
            now - chrono::Duration::days(7)
        );
        assert_eq!(
            parse_since("2026-11-29T10:00:00Z", now)
                .unwrap()
                .to_rfc3339(),
            "2026-11-29T10:00:00+00:00"
        );
        assert!(parse_since("yesterday", now).is_err());
        assert!(parse_since("5w", now).is_err());
    }
}
