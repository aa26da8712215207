//! Connecting to NATS with the credentials a URL carries.
//!
//! async-nats 0.51 parses `nats://user:password@host` but does not send the
//! user and password (nor a `nats://token@host` token); a deployment with
//! NATS users (nats/nats-server.conf) would be refused. They are taken from
//! the URL here and given to the client explicitly.

use anyhow::Context as _;
use async_nats::{ConnectOptions, ServerAddr};
use std::str::FromStr;

/// The environment variable naming this process's inbox prefix, for NATS
/// deployments that give each user its own (nats/nats-server.conf).
pub const INBOX_PREFIX_ENV: &str = "OLYMPUS_NATS_INBOX_PREFIX";

/// Connect options carrying `url`'s credentials, if any, and the inbox
/// prefix of `OLYMPUS_NATS_INBOX_PREFIX` when it is set.
pub fn options(url: &str) -> anyhow::Result<ConnectOptions> {
    let redacted = crate::config::redact_url_credentials(url);
    let addr = ServerAddr::from_str(url).with_context(|| format!("parsing NATS URL {redacted}"))?;
    let options = match (addr.username(), addr.password()) {
        (Some(user), Some(password)) => {
            ConnectOptions::with_user_and_password(percent_decode(user), percent_decode(password))
        }
        (Some(token), None) => ConnectOptions::with_token(percent_decode(token)),
        _ => ConnectOptions::new(),
    };
    // After a NATS restart, try again at least every second (the default
    // backs off to 4 s): workers answer again within a second of NATS.
    let options = options.reconnect_delay_callback(reconnect_delay);
    Ok(match std::env::var(INBOX_PREFIX_ENV) {
        Ok(prefix) if !prefix.trim().is_empty() => options.custom_inbox_prefix(prefix.trim()),
        _ => options,
    })
}

/// How long to wait before reconnect attempt `attempts`: at once, then
/// doubling from 2 ms up to one second.
fn reconnect_delay(attempts: usize) -> std::time::Duration {
    let exponent = u32::try_from(attempts.saturating_sub(1)).unwrap_or(u32::MAX);
    let millis = if attempts <= 1 {
        0
    } else {
        2_u64.saturating_pow(exponent).min(1000)
    };
    std::time::Duration::from_millis(millis)
}

/// Connects to `url` as `name` (shown by `nats server report connections`).
pub async fn connect(url: &str, name: &str) -> anyhow::Result<async_nats::Client> {
    options(url)?
        .name(name)
        .connect(url)
        .await
        .with_context(|| {
            format!(
                "connecting to NATS at {}",
                crate::config::redact_url_credentials(url)
            )
        })
}

/// What the NATS server refused a connection (`-ERR` lines: permissions
/// violations, a wrong user or password), kept so that a command can say
/// why a request got no reply: a server refuses a publish or a subscription
/// by telling the connection, not the request.
#[derive(Debug, Clone, Default)]
pub struct Refusals(std::sync::Arc<std::sync::Mutex<Vec<String>>>);

impl Refusals {
    /// `options` reporting every refusal here (and as a warning).
    pub fn watch(&self, options: ConnectOptions) -> ConnectOptions {
        let refusals = self.clone();
        options.event_callback(move |event| {
            let refusals = refusals.clone();
            async move {
                let text = match event {
                    async_nats::Event::ServerError(async_nats::ServerError::Other(text)) => text,
                    async_nats::Event::ServerError(async_nats::ServerError::AuthorizationViolation) => {
                        "authorization violation".to_owned()
                    }
                    other => {
                        tracing::debug!(event = %other, "NATS connection event");
                        return;
                    }
                };
                tracing::warn!(refusal = %text, "the NATS server refused this connection something");
                let mut seen = refusals.0.lock().unwrap_or_else(|e| e.into_inner());
                if !seen.contains(&text) {
                    seen.push(text);
                }
            }
        })
    }

    /// Every distinct refusal so far, oldest first.
    pub fn seen(&self) -> Vec<String> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// `%XX` escapes of a URL's user information, decoded.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_information_is_percent_decoded() {
        assert_eq!(percent_decode("p%40ss%3Aword"), "p@ss:word");
        assert_eq!(percent_decode("plain%zz%4"), "plain%zz%4");
    }

    #[test]
    fn urls_with_and_without_credentials_give_options() {
        for url in [
            "nats://127.0.0.1:4222",
            "nats://olympus:s3cret@nats:4222",
            "nats://token@nats:4222",
        ] {
            assert!(options(url).is_ok(), "{url}");
        }
        assert!(options("http://nats:4222").is_err());
    }
}
