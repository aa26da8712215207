//! The bounds every request is held to before a handler sees it (contract
//! §1, "Bounds a worker enforces on every request").
//!
//! Everything here reads bytes the caller chose: the reply subject (where
//! the worker would publish, with its own credentials), and the headers
//! that end up in sessions, events and logs.

use std::net::IpAddr;

pub use olympus_contracts::headers::{MAX_HEADER_BYTES, MAX_USER_AGENT_BYTES};

/// The reply subject prefixes a worker answers.
#[derive(Debug, Clone)]
pub struct ReplyPrefixes(Vec<String>);

impl ReplyPrefixes {
    /// Checks the configured prefixes: each a subject prefix ending with
    /// `.`, without wildcards or whitespace.
    pub fn new(prefixes: &[String]) -> anyhow::Result<Self> {
        let prefixes: Vec<String> = prefixes
            .iter()
            .map(|p| p.trim().to_owned())
            .filter(|p| !p.is_empty())
            .collect();
        if prefixes.is_empty() {
            anyhow::bail!("OLYMPUS_REPLY_PREFIXES lists no prefix: no request could be answered");
        }
        for prefix in &prefixes {
            let tokens_ok = prefix
                .strip_suffix('.')
                .is_some_and(|head| head.split('.').all(is_literal_token));
            if !tokens_ok {
                anyhow::bail!(
                    "reply prefix {prefix:?} must be literal subject tokens ending with '.', \
                     e.g. _INBOX."
                );
            }
        }
        Ok(Self(prefixes))
    }

    /// Whether a worker may publish its reply to `reply`: it starts with an
    /// allowed prefix, and it and the rest are literal tokens (no `*`, `>`,
    /// empty token or whitespace), at most 256 bytes.
    pub fn allows(&self, reply: &str) -> bool {
        reply.len() <= 256
            && self.0.iter().any(|prefix| {
                reply
                    .strip_prefix(prefix.as_str())
                    .is_some_and(|rest| rest.split('.').all(is_literal_token))
            })
    }
}

fn is_literal_token(token: &str) -> bool {
    !token.is_empty()
        && token
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b'*' && b != b'>')
}

/// The size of the headers on the wire, near enough: each value with its
/// name and separators.
pub fn header_bytes(headers: Option<&async_nats::HeaderMap>) -> usize {
    headers.map_or(0, |headers| {
        headers
            .iter()
            .map(|(name, values)| {
                let name: &str = name.as_ref();
                values
                    .iter()
                    .map(|value| name.len() + value.as_str().len() + 4)
                    .sum::<usize>()
            })
            .sum()
    })
}

/// `X-Client-Ip` when it is an IPv4 or IPv6 address, normalized (an
/// IPv4-mapped IPv6 address as IPv4); anything else is ignored.
pub fn client_ip(value: Option<&str>) -> Option<String> {
    let ip: IpAddr = value?.trim().parse().ok()?;
    Some(ip.to_canonical().to_string())
}

/// `User-Agent` without control characters, cut to
/// [`MAX_USER_AGENT_BYTES`] at a character boundary; none when empty.
pub fn user_agent(value: Option<&str>) -> Option<String> {
    let mut agent = String::new();
    for c in value?.trim().chars() {
        let c = if c.is_control() { ' ' } else { c };
        if agent.len() + c.len_utf8() > MAX_USER_AGENT_BYTES {
            break;
        }
        agent.push(c);
    }
    (!agent.is_empty()).then_some(agent)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inbox() -> ReplyPrefixes {
        ReplyPrefixes::new(&["_INBOX.".to_owned()]).unwrap()
    }

    #[test]
    fn only_literal_inbox_subjects_are_answered() {
        let prefixes = inbox();
        assert!(prefixes.allows("_INBOX.abc123.def"));
        for reply in [
            "",
            "_INBOX.",
            "_INBOX",
            "_INBOX.a.*",
            "_INBOX.>",
            "_INBOX.a..b",
            "_INBOX.a b",
            "$JS.API.STREAM.DELETE.OLYMPUS_MAIL",
            "$JS.API.STREAM.PURGE.OLYMPUS_EVENTS",
            "olympus.events.0193.order.paid",
            "$SYS.REQ.SERVER.PING",
            "_INBOXES.x",
        ] {
            assert!(!prefixes.allows(reply), "{reply:?}");
        }
        assert!(!prefixes.allows(&format!("_INBOX.{}", "a".repeat(300))));
    }

    #[test]
    fn configured_prefixes_must_be_literal_and_end_with_a_dot() {
        let custom =
            ReplyPrefixes::new(&["_INBOX.".to_owned(), "_GW.replies.".to_owned()]).unwrap();
        assert!(custom.allows("_GW.replies.x1"));
        assert!(!custom.allows("_GW.other.x1"));
        for bad in ["_INBOX", "*.", ">", "a..", ""] {
            assert!(ReplyPrefixes::new(&[bad.to_owned()]).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn client_ips_are_parsed_and_normalized() {
        assert_eq!(
            client_ip(Some("203.0.113.7")).as_deref(),
            Some("203.0.113.7")
        );
        assert_eq!(
            client_ip(Some(" 2001:DB8::1 ")).as_deref(),
            Some("2001:db8::1")
        );
        assert_eq!(
            client_ip(Some("::ffff:10.0.0.1")).as_deref(),
            Some("10.0.0.1")
        );
        for junk in [
            "<script>alert(1)</script>",
            "",
            "1.2.3",
            "10.0.0.1, 10.0.0.2",
            "fe80::1%eth0",
        ] {
            assert_eq!(client_ip(Some(junk)), None, "{junk:?}");
        }
        assert_eq!(client_ip(Some(&"\"".repeat(1_000_000))), None);
    }

    #[test]
    fn user_agents_are_cut_at_a_character_boundary() {
        assert_eq!(user_agent(Some("curl/8.0")).as_deref(), Some("curl/8.0"));
        let long = "é".repeat(400); // 800 bytes
        let cut = user_agent(Some(&long)).unwrap();
        assert_eq!(cut.len(), 512);
        assert!(cut.chars().all(|c| c == 'é'));
        assert_eq!(user_agent(Some("a\tb\u{0}c")).as_deref(), Some("a b c"));
        assert_eq!(user_agent(Some("   ")), None);
    }
}
