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

/// How often a connection pings its server. async-nats gives up on a
/// connection with two pings unanswered and reconnects (to another server
/// of the URL's list when there are several), so a server that hangs
/// instead of dying is left within about three intervals, instead of the
/// three minutes of the client's default 60 s.
pub const PING_INTERVAL: std::time::Duration = std::time::Duration::from_secs(2);

/// The servers of `url`: one URL, or several separated by commas
/// (`nats://a:4222,nats://b:4222`), as a NATS cluster is given; any of them
/// may carry the credentials (`nats://user:password@host`). An error names
/// the server by its place in the list, never by its text.
pub fn servers(url: &str) -> anyhow::Result<Vec<ServerAddr>> {
    let pieces = crate::config::nats_url_pieces(url);
    anyhow::ensure!(!pieces.is_empty(), "the NATS URL names no server");
    let count = pieces.len();
    pieces
        .iter()
        .enumerate()
        .map(|(i, one)| {
            ServerAddr::from_str(one).map_err(|err| {
                anyhow::anyhow!(
                    "the NATS URL's server {} of {count} is not a NATS URL \
                     (nats://[user:password@]host[:port]): {err}",
                    i + 1
                )
            })
        })
        .collect()
}

/// [`servers`] without their credentials, which [`options`] carries: the
/// client logs the addresses it connects to.
pub fn addresses(url: &str) -> anyhow::Result<Vec<ServerAddr>> {
    servers(url)?
        .into_iter()
        .map(|server| {
            let mut bare = server.into_inner();
            // Cannot fail for the schemes a ServerAddr has.
            let _ = bare.set_password(None);
            let _ = bare.set_username("");
            ServerAddr::from_url(bare).context("a NATS server address")
        })
        .collect()
}

/// Connect options carrying the credentials of `url` (one server, or
/// several separated by commas; the first that carries any), the inbox
/// prefix of `OLYMPUS_NATS_INBOX_PREFIX` when it is set, and
/// [`PING_INTERVAL`].
pub fn options(url: &str) -> anyhow::Result<ConnectOptions> {
    let servers = servers(url)?;
    let credentials = servers.iter().find(|s| s.username().is_some());
    let options = match credentials.map(|s| (s.username(), s.password())) {
        Some((Some(user), Some(password))) => {
            ConnectOptions::with_user_and_password(percent_decode(user), percent_decode(password))
        }
        Some((Some(token), None)) => ConnectOptions::with_token(percent_decode(token)),
        _ => ConnectOptions::new(),
    };
    // After a NATS restart, try again at least every second (the default
    // backs off to 4 s): workers answer again within a second of NATS.
    let options = options
        .reconnect_delay_callback(reconnect_delay)
        .ping_interval(PING_INTERVAL);
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
        .connect(addresses(url)?)
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

/// The oldest nats-server Olympus is run on in production: 2.10 reads the
/// shipped configuration's `sync_interval`, and 2.10.23 carries the fixes of
/// Jepsen's analysis (acknowledged writes lost, 2025).
pub const RECOMMENDED_SERVER: (u64, u64, u64) = (2, 10, 23);

/// Whether `version` (`2.9.25`, `2.15.1-RC.1`) is older than
/// [`RECOMMENDED_SERVER`]; `None` when it cannot be read.
pub fn older_than_recommended(version: &str) -> Option<bool> {
    let mut parts = version
        .trim_start_matches('v')
        .split(['.', '-'])
        .take(3)
        .map(|part| part.parse::<u64>().ok());
    let found = (parts.next()??, parts.next()??, parts.next()??);
    Some(found < RECOMMENDED_SERVER)
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

    #[test]
    fn server_versions_are_compared_as_numbers() {
        assert_eq!(older_than_recommended("2.9.25"), Some(true));
        assert_eq!(older_than_recommended("2.10.22"), Some(true));
        assert_eq!(older_than_recommended("2.10.23"), Some(false));
        assert_eq!(older_than_recommended("2.15.1-RC.1"), Some(false));
        assert_eq!(older_than_recommended("v2.11.0"), Some(false));
        assert_eq!(older_than_recommended("dev"), None);
    }

    #[test]
    fn a_cluster_is_a_list_of_urls() {
        let listed = servers("nats://u:pw@a:4222, nats://b:4223,nats://c:4224").unwrap();
        let hosts: Vec<_> = listed
            .iter()
            .map(|s| (s.host().to_owned(), s.port()))
            .collect();
        assert_eq!(
            hosts,
            [("a".into(), 4222), ("b".into(), 4223), ("c".into(), 4224)]
        );
        assert!(options("nats://a:4222,nats://u:pw@b:4222").is_ok());
        assert!(servers(" , ").is_err());
        let err = servers("nats://a:4222,nats://u:secret@b:port").unwrap_err();
        assert!(format!("{err:#}").contains("server 2 of 2"), "{err:#}");
        assert!(!format!("{err:#}").contains("secret"), "{err:#}");
        // A comma in a password does not split the URL.
        let one = servers("nats://u:pa,ss@h:4222").unwrap();
        assert_eq!((one.len(), one[0].password()), (1, Some("pa,ss")));
        // The addresses connected to carry no credentials.
        let bare = addresses("nats://u:pw@a:4222,nats://b:4223").unwrap();
        assert!(bare
            .iter()
            .all(|a| a.username().is_none() && a.password().is_none()));
        assert_eq!(bare[0].port(), 4222);
    }
}
