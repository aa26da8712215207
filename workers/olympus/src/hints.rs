//! Errors that say what to do: a command's failure names its cause as the
//! operator can act on it (JetStream off, a NATS permission, the inbox
//! prefix a user needs, a mistyped operation), not as the library saw it.

use olympus_runtime::nats::Refusals;
use std::time::Duration;

/// A NATS connection for a command, watched for what the server refuses.
pub async fn connect(
    url: &str,
    name: &str,
    request_timeout: Option<Duration>,
) -> anyhow::Result<(async_nats::Client, Refusals)> {
    let refusals = Refusals::default();
    let options = refusals
        .watch(olympus_runtime::nats::options(url)?)
        .name(name)
        .request_timeout(request_timeout);
    let client = options
        .connect(olympus_runtime::nats::addresses(url)?)
        .await
        .map_err(|err| {
            let redacted = olympus_runtime::config::redact_url_credentials(url);
            let hint = if err.to_string().to_lowercase().contains("authorization") {
                "the user and password of NATS_URL are not one of the server's users"
            } else {
                "start nats-server (with -js), or set NATS_URL to where it runs"
            };
            anyhow::anyhow!("connecting to NATS at {redacted}: {err}\n  hint: {hint}")
        })?;
    // A subscription or publish the server refuses is reported as soon as
    // it is sent; let a first one arrive before anything depends on it.
    client.flush().await.ok();
    Ok((client, refusals))
}

/// What the server refused this connection, as sentences that say what to
/// change; `None` when it refused nothing.
pub fn refused(refusals: &Refusals) -> Option<String> {
    let seen = refusals.seen();
    (!seen.is_empty()).then(|| {
        seen.iter()
            .map(|text| refusal(text))
            .collect::<Vec<_>>()
            .join("\n  ")
    })
}

fn refusal(text: &str) -> String {
    let lower = text.to_lowercase();
    let subject = text.split('"').nth(1).unwrap_or("?");
    if lower.contains("permissions violation for subscription") && subject.starts_with("_INBOX") {
        format!(
            "NATS refused this user a subscription to {subject}, so no reply can reach it: \
             a user with an inbox prefix of its own (nats/add-user) receives replies only there: \
             set OLYMPUS_NATS_INBOX_PREFIX to it (e.g. _INBOX_ops.alice)"
        )
    } else if lower.contains("permissions violation for subscription") {
        format!(
            "NATS refused this user a subscription to {subject}: its permissions \
             (nats/nats-server.conf) do not allow it"
        )
    } else if lower.contains("permissions violation for publish") && subject.starts_with("$JS.") {
        format!(
            "NATS refused this user publishing to {subject}: this user may not use JetStream's \
             API (nats/nats-server.conf); use the relay's user (OLYMPUS_RELAY_NATS_URL), or \
             `services` for events"
        )
    } else if lower.contains("permissions violation for publish") {
        format!(
            "NATS refused this user publishing to {subject}: its permissions \
             (nats/nats-server.conf) do not allow it"
        )
    } else if lower.contains("authorization violation") {
        "NATS refused the user and password of NATS_URL".to_owned()
    } else {
        format!("NATS said: {text}")
    }
}

/// Why a request on `subject` got no reply.
pub fn no_reply(
    err: &async_nats::RequestError,
    subject: &str,
    prefix: &str,
    refusals: &Refusals,
) -> anyhow::Error {
    use async_nats::RequestErrorKind;
    if let Some(refused) = refused(refusals) {
        return anyhow::anyhow!("no reply on {subject}: {refused}");
    }
    match err.kind() {
        RequestErrorKind::NoResponders => anyhow::anyhow!(
            "no worker answers {subject}\n  hint: start `olympus serve` on this NATS server, \
             or set OLYMPUS_SUBJECT_PREFIX to the workers' prefix ({prefix} here); \
             `olympus doctor` checks"
        ),
        RequestErrorKind::TimedOut => anyhow::anyhow!(
            "no reply on {subject} in time\n  hint: the workers may be overloaded or stopping; \
             `olympus doctor` checks NATS and the workers (--timeout waits longer)"
        ),
        _ => anyhow::anyhow!("no reply on {subject}: {err}"),
    }
}

/// Why a JetStream call failed: a permission, JetStream off, or `err`.
pub fn jetstream(err: impl std::fmt::Display, what: &str, refusals: &Refusals) -> anyhow::Error {
    if let Some(refused) = refused(refusals) {
        return anyhow::anyhow!("{what}: {refused}");
    }
    let text = err.to_string();
    let lower = text.to_lowercase();
    // No responder to JetStream's API (async-nats words it "requested
    // JetStream resource does not exist"): nothing serves it. ("JetStream
    // system temporarily unavailable" is a cluster without a quorum or
    // electing a leader: JetStream is on.)
    let off = ["no responders", "resource does not exist", "not enabled"];
    if lower.contains("temporarily unavailable") {
        anyhow::anyhow!(
            "{what}: {text}\n  hint: JetStream is electing a leader or has no quorum (a cluster \
             with nodes down): try again in a few seconds"
        )
    } else if off.iter().any(|words| lower.contains(words)) {
        anyhow::anyhow!(
            "{what}: {text}\n  hint: JetStream is off on this NATS server: start nats-server \
             with -js (and a storage directory, -sd DIR)"
        )
    } else if lower.contains("not found") {
        anyhow::anyhow!(
            "{what}: {text}\n  hint: `olympus serve` creates the streams when it starts"
        )
    } else {
        anyhow::anyhow!("{what}: {text}")
    }
}

/// The candidate closest to `word`, when one is close enough to be what
/// was meant.
pub fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|candidate| (strsim::jaro_winkler(word, candidate), candidate))
        .filter(|(score, _)| *score >= 0.85)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, candidate)| candidate)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mistyped_operation_finds_what_was_meant() {
        let names = [
            "auth.login",
            "auth.logout",
            "auth.logout_all",
            "commerce.orders.create",
        ];
        assert_eq!(closest("auth.logn", names), Some("auth.login"));
        assert_eq!(
            closest("commerce.order.create", names),
            Some("commerce.orders.create")
        );
        assert_eq!(closest("tenant.frobnicate", names), None);
    }

    #[test]
    fn refusals_name_the_subject_and_the_setting() {
        let inbox = refusal(r#"Permissions Violation for Subscription to "_INBOX.abc.*""#);
        assert!(
            inbox.contains("_INBOX.abc.*") && inbox.contains("OLYMPUS_NATS_INBOX_PREFIX"),
            "{inbox}"
        );
        let api =
            refusal(r#"Permissions Violation for Publish to "$JS.API.STREAM.INFO.OLYMPUS_EVENTS""#);
        assert!(
            api.contains("$JS.API.STREAM.INFO.OLYMPUS_EVENTS") && api.contains("JetStream"),
            "{api}"
        );
    }
}
