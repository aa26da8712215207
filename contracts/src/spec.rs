//! The machine-readable spec, built from the catalog in this crate.
//!
//! `contracts/spec/v1.json` is this value, serialized; a test fails when
//! the two differ, so a contract change is always a visible diff. Refresh it
//! with `UPDATE_SPEC=1 cargo test -p olympus-contracts`.

use serde::Serialize;

use crate::error::ErrorCode;
use crate::event::{EventType, MailTemplate};
use crate::headers;
use crate::operation::{self, Access, Who};
use crate::Subjects;

/// The whole contract, as data.
#[derive(Debug, Serialize)]
pub struct Spec {
    pub version: u32,
    pub default_prefix: &'static str,
    pub content_types: [&'static str; 2],
    pub max_request_bytes: usize,
    pub request_bounds: RequestBounds,
    pub request_headers: Vec<&'static str>,
    pub error_reply_headers: [&'static str; 2],
    pub operations: Vec<OperationSpec>,
    /// The JSON Schema (draft 2020-12) of every request and reply, by the
    /// name an operation's `request` and `reply` give; they refer to each
    /// other as `#/schemas/{name}`.
    pub schemas: serde_json::Map<String, serde_json::Value>,
    /// The error reply body of every error.
    pub error_body: serde_json::Value,
    /// The envelope of every event (its `data` is in `event_data`).
    pub event_envelope: serde_json::Value,
    /// The payload of every mail message.
    pub mail: serde_json::Value,
    pub errors: Vec<ErrorSpec>,
    pub streams: Vec<StreamSpec>,
    pub event_content_type: &'static str,
    pub event_headers: [&'static str; 3],
    pub event_types: Vec<&'static str>,
    /// The JSON Schema of each event type's `data`.
    pub event_data: std::collections::BTreeMap<&'static str, schemars::Schema>,
    pub mail_templates: Vec<&'static str>,
}

/// What a worker enforces on every request before running it (contract §1).
#[derive(Debug, Serialize)]
pub struct RequestBounds {
    /// Reply subjects answered by default; any other request, or one whose
    /// reply subject holds a wildcard, is dropped unanswered.
    pub default_reply_prefixes: [&'static str; 1],
    /// Headers over this many bytes in all: `bad_request`.
    pub max_header_bytes: usize,
    /// `User-Agent` is recorded up to this many bytes.
    pub max_user_agent_bytes: usize,
    /// `X-Client-Ip` is recorded only when it is an IPv4 or IPv6 address.
    pub client_ip: &'static str,
    /// Work that cannot start within the worker's bounds gets this code at
    /// once, with `details.retry_after_secs`.
    pub overload: ErrorCode,
}

/// One operation: its subject under the default prefix and its access.
#[derive(Debug, Serialize)]
pub struct OperationSpec {
    pub subject: String,
    pub service: &'static str,
    pub micro_service: &'static str,
    pub operation: &'static str,
    /// `public` (P) or `bearer` (B).
    pub access: Access,
    /// Who may call it, by current role: `anyone`, `member`, `admin`
    /// (owner or admin), `owner`, `platform_admin` (owner or admin of the
    /// tenant `platform`). Others get `forbidden`.
    pub who: Who,
    pub idempotency_key: bool,
    /// The request's schema in `schemas`.
    pub request: String,
    /// The reply's schema in `schemas`.
    pub reply: String,
}

/// One error code and its status.
#[derive(Debug, Serialize)]
pub struct ErrorSpec {
    pub code: ErrorCode,
    pub status: u16,
}

/// One JetStream stream.
#[derive(Debug, Serialize)]
pub struct StreamSpec {
    pub name: String,
    pub subjects: String,
}

impl Spec {
    /// The spec of contract v1.
    pub fn v1() -> Self {
        let subjects = Subjects::default();
        let mut generator = schemars::generate::SchemaSettings::draft2020_12()
            .with(|s| s.definitions_path = "/schemas".into())
            .into_generator();
        let mut operations = Vec::with_capacity(operation::ALL.len());
        operation::schemas(&mut generator, |op, request, reply| {
            operations.push(OperationSpec {
                subject: subjects.endpoint(op.service, op.name),
                service: op.service.as_str(),
                micro_service: op.service.micro_name(),
                operation: op.name,
                access: op.access(),
                who: op.who,
                idempotency_key: op.idempotent,
                request,
                reply,
            })
        });
        let error_body = generator.subschema_for::<crate::ErrorBody>().to_value();
        let event_envelope = generator
            .subschema_for::<crate::event::Envelope>()
            .to_value();
        let mail = generator.subschema_for::<crate::event::Mail>().to_value();
        let schemas = generator.take_definitions(true);
        Self {
            version: 1,
            default_prefix: Subjects::DEFAULT_PREFIX,
            content_types: ["application/msgpack", "application/json"],
            max_request_bytes: crate::codec::MAX_REQUEST_BYTES,
            request_bounds: RequestBounds {
                default_reply_prefixes: [headers::DEFAULT_REPLY_PREFIX],
                max_header_bytes: headers::MAX_HEADER_BYTES,
                max_user_agent_bytes: headers::MAX_USER_AGENT_BYTES,
                client_ip: "ipv4_or_ipv6",
                overload: ErrorCode::Unavailable,
            },
            request_headers: vec![
                headers::AUTHORIZATION,
                headers::CONTENT_TYPE,
                headers::CORRELATION_ID,
                headers::IDEMPOTENCY_KEY,
                headers::CLIENT_IP,
                headers::USER_AGENT,
                headers::TRACEPARENT,
            ],
            error_reply_headers: [headers::SERVICE_ERROR_CODE, headers::SERVICE_ERROR],
            operations,
            schemas,
            error_body,
            event_envelope,
            mail,
            errors: ErrorCode::ALL
                .iter()
                .map(|&code| ErrorSpec {
                    code,
                    status: code.status(),
                })
                .collect(),
            streams: vec![
                StreamSpec {
                    name: subjects.events_stream(),
                    subjects: subjects.events_wildcard(),
                },
                StreamSpec {
                    name: subjects.mail_stream(),
                    subjects: subjects.mail_wildcard(),
                },
            ],
            event_content_type: crate::event::CONTENT_TYPE,
            event_headers: [
                headers::NATS_MSG_ID,
                headers::CONTENT_TYPE,
                headers::CORRELATION_ID,
            ],
            event_types: EventType::ALL.iter().map(|t| t.as_str()).collect(),
            event_data: crate::event::data::schemas()
                .into_iter()
                .map(|(t, schema)| (t.as_str(), schema))
                .collect(),
            mail_templates: MailTemplate::ALL.iter().map(|t| t.as_str()).collect(),
        }
    }

    /// Pretty JSON with a trailing newline, as committed.
    pub fn to_json(&self) -> String {
        let mut json = serde_json::to_string_pretty(self).unwrap_or_default();
        json.push('\n');
        json
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operation_has_its_request_and_reply_schemas() {
        let spec = Spec::v1();
        for op in &spec.operations {
            for name in [&op.request, &op.reply] {
                assert!(
                    spec.schemas.contains_key(name.as_str()),
                    "{}: no schema {name:?}",
                    op.subject
                );
            }
        }
    }

    #[test]
    fn committed_spec_matches_the_code() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/spec/v1.json");
        let generated = Spec::v1().to_json();
        if std::env::var_os("UPDATE_SPEC").is_some() {
            std::fs::write(path, &generated).unwrap();
        }
        let committed = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            committed == generated,
            "contracts/spec/v1.json is stale; run UPDATE_SPEC=1 cargo test -p olympus-contracts and commit the diff"
        );
        // The gateway embeds the same spec.
        let gateway = concat!(env!("CARGO_MANIFEST_DIR"), "/../gateway/v1.json");
        if std::env::var_os("UPDATE_SPEC").is_some() {
            std::fs::write(gateway, &generated).unwrap();
        }
        assert!(
            std::fs::read_to_string(gateway).unwrap_or_default() == generated,
            "gateway/v1.json differs from contracts/spec/v1.json; run UPDATE_SPEC=1 cargo test -p olympus-contracts"
        );
    }
}
