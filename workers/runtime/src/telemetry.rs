//! Tracing setup: human-readable text or JSON lines, on stderr.
//!
//! Every request runs in a `request` span carrying its subject, correlation
//! id, status and latency (see [`crate::service`]). Nothing here ever
//! records a request body, so passwords and tokens cannot reach the logs.

use std::io::IsTerminal;
use tracing_subscriber::{fmt, prelude::*, EnvFilter};

use crate::config::{LogConfig, LogFormat};

/// Installs the global subscriber. Call once, at start. A `quiet_client`
/// (a command a person runs, not a worker) does not log the NATS client's
/// connection chatter unless the filter names `async_nats`.
pub fn init(config: &LogConfig, quiet_client: bool) -> anyhow::Result<()> {
    let mut filter = EnvFilter::try_new(&config.log)
        .map_err(|e| anyhow::anyhow!("invalid OLYMPUS_LOG filter {:?}: {e}", config.log))?;
    if quiet_client && !config.log.contains("async_nats") {
        filter = filter.add_directive("async_nats=warn".parse()?);
    }
    let registry = tracing_subscriber::registry().with(filter);
    match config.log_format {
        LogFormat::Text => registry
            .with(
                fmt::layer()
                    .with_ansi(std::io::stderr().is_terminal())
                    .with_writer(std::io::stderr),
            )
            .try_init()?,
        LogFormat::Json => registry
            .with(
                fmt::layer()
                    .json()
                    .with_current_span(true)
                    .with_span_list(false)
                    .flatten_event(true)
                    .with_writer(std::io::stderr),
            )
            .try_init()?,
    }
    Ok(())
}
