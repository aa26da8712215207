//! The human-readable contract, `docs/contract.md`, generated from the same
//! [`Spec`] as `spec/v1.json`: subjects, headers, bounds, errors (with
//! their HTTP statuses), operations (with who may call them, idempotency
//! and their HTTP route through the gateway), every shape field by field,
//! events and mail. A test fails when the committed file is stale, so the
//! document cannot drift from the code; `UPDATE_SPEC=1 cargo test -p
//! olympus-contracts` rewrites it.

use serde_json::Value;
use std::fmt::Write;

use crate::spec::Spec;

/// The document, as committed.
pub fn markdown(spec: &Spec) -> String {
    let mut out = String::new();
    let o = &mut out;
    o.push_str(
        r#"# The Olympus wire contract, version 1

Generated from the `contracts` crate (`cargo test -p olympus-contracts` checks it;
`UPDATE_SPEC=1 cargo test -p olympus-contracts` rewrites it). The machine-readable forms are
`contracts/spec/v1.json` and `contracts/spec/asyncapi.json`; the gateway serves an OpenAPI document
at `GET /openapi.json`.

## Transport

Core NATS request-reply. Each worker is a NATS micro service (`$SRV.PING`, `$SRV.INFO`,
`$SRV.STATS` find it) in the queue group `q`; any number of processes may run each worker. A
request goes to `{prefix}.{service}.v1.{operation}` (prefix `olympus` unless configured); its
payload is the request object itself, in MessagePack (the default) or JSON, as its `Content-Type`
says. An operation whose fields are all optional also takes an empty payload. Every request gets
exactly one reply, on its reply subject: the reply object, or an error (headers
`Nats-Service-Error-Code`, the status below, and `Nats-Service-Error`, the message; body as in
[Errors](#errors)) in the request's encoding (MessagePack when the request's type was not
supported).

## Encoding

MessagePack objects are maps keyed by field names, never positional arrays, at most 32 levels
deep; JSON uses the same names. UUIDs and times are strings (times RFC 3339 in UTC). Unknown or
missing fields of a request are `bad_request` naming the field; replies may gain fields in later
revisions, so readers ignore fields they do not know. Money is `{amount, currency}`: an integer of
the currency's minor unit and its ISO 4217 code, never a float.

## Request headers

| header | meaning |
|---|---|
| `Authorization` | `Bearer <access token>`: required where *who* is not `anyone` |
| `Content-Type` | `application/msgpack` (default) or `application/json`; anything else is `unsupported_media_type` |
| `X-Correlation-Id` | 1-128 of `[A-Za-z0-9._:-]`; made (UUIDv7) when absent or invalid; echoed, logged, carried into events |
| `Idempotency-Key` | 1-255 printable ASCII, on operations marked idempotent (see [Idempotency](#idempotency)); ignored elsewhere |
| `X-Client-Ip` | the end user's address as the gateway saw it; recorded only when it is an IPv4 or IPv6 address |
| `User-Agent` | the end user's agent; recorded up to the bound below |
| `traceparent` | W3C trace context, carried into events when valid |

## Bounds

"#
    );
    let b = &spec.request_bounds;
    let _ = writeln!(
        o,
        "- A request is answered only on a reply subject that starts with an allowed inbox prefix \
         (`{}` by default, configurable) and holds no wildcard; any other is dropped unanswered. \
         So are `$SRV.PING`, `$SRV.INFO` and `$SRV.STATS`.",
        b.default_reply_prefixes.join("`, `")
    );
    let _ = writeln!(
        o,
        "- Headers over {} bytes in all, or not valid NATS headers (a byte that is not UTF-8, a \
         line without `:`): `bad_request`; such a request costs only itself. `User-Agent` is \
         recorded up to {} bytes.",
        b.max_header_bytes, b.max_user_agent_bytes
    );
    let _ = writeln!(
        o,
        "- Payloads over {} bytes: `payload_too_large`.",
        spec.max_request_bytes
    );
    let _ = writeln!(
        o,
        "- Work that cannot start within the worker's bounds (the password-hashing queue is full, \
         an operation holds its share of the in-flight requests) is answered at once with `{}` \
         and `details.retry_after_secs`.\n",
        b.overload.as_str()
    );

    let _ = writeln!(o, "## Errors\n");
    let _ = writeln!(o, "Body: {}\n", fields_inline(&spec.error_body, spec));
    let _ = writeln!(
        o,
        "| code | status (and HTTP status through the gateway) |\n|---|---|"
    );
    for e in &spec.errors {
        let _ = writeln!(o, "| `{}` | {} |", e.code.as_str(), e.status);
    }
    let _ = writeln!(
        o,
        "\n`unavailable` means a dependency (Postgres) was away and the change was not made: safe to \
         retry; with `details.outcome: \"unknown\"`, the worker could not learn whether its commit \
         happened (retry only with an `Idempotency-Key`). While Postgres is away, every request \
         is answered within about 1.5 s. Through the gateway, no worker answering or NATS away is \
         503 and no reply in time is 504 (both `unavailable`, with `Retry-After`; a 504's outcome \
         is unknown).\n"
    );

    let _ = writeln!(o, "## Operations\n");
    let _ = writeln!(
        o,
        "*Who*: `anyone` (no token), `member` (any member of the token's tenant), `admin` (owners \
         and admins), `owner`, `platform_admin` (owners and admins of the tenant `platform`), \
         checked against the caller's current role; others get `forbidden`. *I*: takes an \
         `Idempotency-Key`. The HTTP route is the gateway's.\n"
    );
    let _ = writeln!(
        o,
        "| subject | HTTP route | who | I | request | reply |\n|---|---|---|---|---|---|"
    );
    for op in &spec.operations {
        let _ = writeln!(
            o,
            "| `{}` | `POST /v1/{}/{}` | {} | {} | [{}](#{}) | [{}](#{}) |",
            op.subject,
            op.service,
            op.operation,
            serde_json::to_value(op.who)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
            if op.idempotency_key { "I" } else { "" },
            op.request,
            op.request.to_lowercase(),
            op.reply,
            op.reply.to_lowercase(),
        );
    }
    o.push_str(
        r#"
## Idempotency

On operations marked I, a request with an `Idempotency-Key` runs at most once per tenant, caller
(the access token's user), operation and key for 24 hours: a stored reply goes back only to the
caller whose request made it (revision 3; keys stored before it name no caller and answer any retry
`idempotency_key_reused` until they expire). A retry of the same request (compared decoded) gets the
stored reply, success or coded error, in the retry's own encoding; the same key with another request is
`idempotency_key_reused`; a retry while the first still runs is `idempotency_key_in_use` with
`retry_after_secs`. The reply is stored in the same transaction as the change. `rate_limited`,
`unavailable` and `internal` are not stored.

## Pages

Every list takes `{limit?: 1..100 (default 20), cursor?}` and answers `{items, next_cursor}`
(`next_cursor` nil on the last page). Cursors are opaque, stable under concurrent inserts, and
belong to one operation, tenant and filter: any other use is `bad_request` on `cursor`.

"#,
    );

    let _ = writeln!(o, "## Shapes\n");
    for (name, schema) in &spec.schemas {
        let _ = writeln!(o, "### {name}\n");
        if let Some(description) = schema.get("description").and_then(Value::as_str) {
            let _ = writeln!(o, "{}\n", one_line(description));
        }
        shape(o, schema);
    }

    let _ = writeln!(o, "## Events\n");
    let _ = writeln!(
        o,
        "Published through a transactional outbox into the stream `{}` on `{{prefix}}.events.{{tenant_id}}.{{type}}`, \
         as JSON (`{}`), with headers {}. An event exists if and only if its change committed; \
         `Nats-Msg-Id` (= `id`) suppresses duplicates; events of one aggregate keep their order. \
         No event carries a password, hash or token.\n",
        spec.streams.first().map_or("", |s| s.name.as_str()),
        spec.event_content_type,
        spec.event_headers
            .iter()
            .map(|h| format!("`{h}`"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let _ = writeln!(
        o,
        "Envelope: {}\n",
        fields_inline(&spec.event_envelope, spec)
    );
    let _ = writeln!(o, "| type | `data` |\n|---|---|");
    for (event, schema) in &spec.event_data {
        let value = serde_json::to_value(schema).unwrap_or(Value::Null);
        let _ = writeln!(o, "| `{event}` | {} |", fields_inline(&value, spec));
    }
    let _ = writeln!(o, "\n## Mail\n");
    let _ = writeln!(
        o,
        "Tokens travel only here: `{{prefix}}.mail.{{tenant_id}}.{{template}}` in the work-queue \
         stream `{}`, JSON, readable only by the mailer. Templates: {}.\n",
        spec.streams.get(1).map_or("", |s| s.name.as_str()),
        spec.mail_templates
            .iter()
            .map(|t| format!("`{t}`"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let _ = writeln!(o, "Payload: {}", fields_inline(&spec.mail, spec));
    out
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The named schema a `$ref` points at.
fn ref_name(value: &Value) -> Option<&str> {
    value
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|r| r.rsplit('/').next())
}

/// A schema as a short type: `string (uuid)`, `[Money](#money)`,
/// `array of ...`, `a | b`, `... or nil`.
fn type_of(value: &Value) -> String {
    if let Some(name) = ref_name(value) {
        return format!("[{name}](#{})", name.to_lowercase());
    }
    if let Some(any) = value.get("anyOf").and_then(Value::as_array) {
        let parts: Vec<String> = any
            .iter()
            .filter(|v| v.get("type").and_then(Value::as_str) != Some("null"))
            .map(type_of)
            .collect();
        let nullable = any.len() > parts.len();
        return format!(
            "{}{}",
            parts.join(" or "),
            if nullable { " or nil" } else { "" }
        );
    }
    if let Some(values) = value.get("enum").and_then(Value::as_array) {
        return values
            .iter()
            .filter_map(Value::as_str)
            .map(|v| format!("`{v}`"))
            .collect::<Vec<_>>()
            .join(" \\| ");
    }
    let (kind, nullable) = match value.get("type") {
        Some(Value::String(kind)) => (kind.clone(), false),
        Some(Value::Array(kinds)) => {
            let kinds: Vec<&str> = kinds.iter().filter_map(Value::as_str).collect();
            let nullable = kinds.contains(&"null");
            let kind = kinds
                .iter()
                .find(|k| **k != "null")
                .copied()
                .unwrap_or("any");
            (kind.to_owned(), nullable)
        }
        _ => ("any".to_owned(), false),
    };
    let kind = match (kind.as_str(), value.get("format").and_then(Value::as_str)) {
        ("array", _) => format!(
            "array of {}",
            value.get("items").map_or_else(|| "any".to_owned(), type_of)
        ),
        ("string", Some(format)) => format!("string ({format})"),
        ("integer", _) => "integer".to_owned(),
        (kind, _) => kind.to_owned(),
    };
    format!("{kind}{}", if nullable { " or nil" } else { "" })
}

/// An object schema's fields in one line: `{a, b?, c}`.
fn fields_inline(schema: &Value, spec: &Spec) -> String {
    let schema = match ref_name(schema) {
        Some(name) => spec.schemas.get(name).unwrap_or(schema),
        None => schema,
    };
    let required: Vec<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let fields: Vec<String> = schema
        .get("properties")
        .and_then(Value::as_object)
        .map(|p| {
            p.iter()
                .map(|(name, value)| {
                    let optional = if required.contains(&name.as_str()) {
                        ""
                    } else {
                        "?"
                    };
                    format!("{name}{optional}: {}", type_of(value))
                })
                .collect()
        })
        .unwrap_or_default();
    format!("`{{{}}}`", fields.join(", "))
        .replace("`[", "[")
        .replace(")`", ")")
}

/// A named schema's table of fields, or its values.
fn shape(o: &mut String, schema: &Value) {
    if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
        let required: Vec<&str> = schema
            .get("required")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let _ = writeln!(
            o,
            "| field | type | required | meaning |\n|---|---|---|---|"
        );
        for (name, value) in properties {
            let _ = writeln!(
                o,
                "| `{name}` | {} | {} | {} |",
                type_of(value),
                if required.contains(&name.as_str()) {
                    "yes"
                } else {
                    "no"
                },
                value
                    .get("description")
                    .and_then(Value::as_str)
                    .map(one_line)
                    .unwrap_or_default()
            );
        }
        let _ = writeln!(o);
    } else {
        let _ = writeln!(o, "{}\n", type_of(schema));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn committed_document_matches_the_code() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/contract.md");
        let generated = markdown(&Spec::v1());
        if std::env::var_os("UPDATE_SPEC").is_some() {
            std::fs::create_dir_all(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs")).unwrap();
            std::fs::write(path, &generated).unwrap();
        }
        assert!(
            std::fs::read_to_string(path).unwrap_or_default() == generated,
            "docs/contract.md is stale; run UPDATE_SPEC=1 cargo test -p olympus-contracts and commit the diff"
        );
    }

    #[test]
    fn every_operation_event_and_shape_is_in_the_document() {
        let spec = Spec::v1();
        let document = markdown(&spec);
        for op in &spec.operations {
            assert!(
                document.contains(&format!("`{}`", op.subject)),
                "{}",
                op.subject
            );
        }
        for event in spec.event_data.keys() {
            assert!(document.contains(&format!("`{event}`")), "{event}");
        }
        for name in spec.schemas.keys() {
            assert!(document.contains(&format!("### {name}\n")), "{name}");
        }
    }
}
