//! The AsyncAPI 3.0 document of the contract, `spec/asyncapi.json`,
//! generated from the same [`Spec`]: a channel per request subject with its
//! request message, the reply (and the error reply) on the request's reply
//! subject, a channel per event type with its `data` schema inside the
//! envelope, and a channel per mail template. The schemas are the spec's
//! (schemars, from the Rust types). A test keeps the committed file current
//! and the suite validates it with the official parser (`@asyncapi/parser`,
//! `tools/asyncapi`).

use serde_json::{json, Map, Value};

use crate::spec::Spec;

/// Rewrites references into the spec's `schemas` (or a root schema's
/// `$defs`) to the document's components.
fn relocate(value: &Value) -> Value {
    let text = value
        .to_string()
        .replace("\"#/schemas/", "\"#/components/schemas/")
        .replace("\"#/$defs/", "\"#/components/schemas/");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

fn id(text: &str) -> String {
    text.replace(['.', '/'], "_")
}

/// The document.
pub fn document(spec: &Spec) -> Value {
    let mut schemas: Map<String, Value> = spec
        .schemas
        .iter()
        .map(|(name, schema)| (name.clone(), relocate(schema)))
        .collect();
    let mut messages = Map::new();
    let mut channels = Map::new();
    let mut operations = Map::new();
    let message = |name: &str, description: &str, content_type: Option<&str>| {
        let mut m = json!({
            "name": name,
            "title": name,
            "summary": description,
            "payload": {"$ref": format!("#/components/schemas/{name}")},
        });
        if let Some(content_type) = content_type {
            m["contentType"] = json!(content_type);
        }
        m
    };
    messages.insert(
        "ErrorReply".into(),
        json!({
            "name": "ErrorReply",
            "summary": "A coded error: headers Nats-Service-Error-Code (the status) and Nats-Service-Error (the message)",
            "headers": {
                "type": "object",
                "properties": {
                    "Nats-Service-Error-Code": {"type": "string"},
                    "Nats-Service-Error": {"type": "string"},
                    "X-Correlation-Id": {"type": "string"}
                }
            },
            "payload": {"$ref": "#/components/schemas/ErrorBody"},
        }),
    );
    for op in &spec.operations {
        let key = id(&format!("{}.{}", op.service, op.operation));
        for name in [&op.request, &op.reply] {
            messages
                .entry(name.clone())
                .or_insert_with(|| message(name, name, None));
        }
        channels.insert(
            key.clone(),
            json!({
                "address": op.subject,
                "title": format!("{}.{}", op.service, op.operation),
                "description": format!(
                    "Requests to {}.{} (who: {}{}), in the queue group q of the micro service {}.",
                    op.service, op.operation,
                    serde_json::to_value(op.who).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default(),
                    if op.idempotency_key { "; takes Idempotency-Key" } else { "" },
                    op.micro_service,
                ),
                "messages": {"request": {"$ref": format!("#/components/messages/{}", op.request)}},
            }),
        );
        channels.insert(
            format!("{key}_reply"),
            json!({
                "address": null,
                "description": "The request's own reply subject (an allowed inbox).",
                "messages": {
                    "reply": {"$ref": format!("#/components/messages/{}", op.reply)},
                    "error": {"$ref": "#/components/messages/ErrorReply"},
                },
            }),
        );
        operations.insert(
            key.clone(),
            json!({
                "action": "receive",
                "title": format!("{}.{}", op.service, op.operation),
                "channel": {"$ref": format!("#/channels/{key}")},
                "messages": [{"$ref": format!("#/channels/{key}/messages/request")}],
                "reply": {
                    "channel": {"$ref": format!("#/channels/{key}_reply")},
                    "messages": [
                        {"$ref": format!("#/channels/{key}_reply/messages/reply")},
                        {"$ref": format!("#/channels/{key}_reply/messages/error")},
                    ],
                },
            }),
        );
    }
    let tenant = json!({"tenant_id": {"description": "The tenant's id (a UUID)."}});
    let prefix = spec.default_prefix;
    for (event, schema) in &spec.event_data {
        let root = serde_json::to_value(schema).unwrap_or(Value::Null);
        let title = root["title"].as_str().unwrap_or("EventData").to_owned();
        if let Some(defs) = root.get("$defs").and_then(Value::as_object) {
            for (name, def) in defs {
                schemas.entry(name.clone()).or_insert_with(|| relocate(def));
            }
        }
        let mut data = relocate(&root);
        if let Some(object) = data.as_object_mut() {
            object.remove("$defs");
            object.remove("$schema");
        }
        schemas.insert(title.clone(), data);
        let message_name = format!("Event_{}", id(event));
        messages.insert(
            message_name.clone(),
            json!({
                "name": event,
                "title": event,
                "contentType": spec.event_content_type,
                "payload": {"allOf": [
                    {"$ref": "#/components/schemas/Envelope"},
                    {"type": "object", "properties": {
                        "type": {"const": event},
                        "data": {"$ref": format!("#/components/schemas/{title}")},
                    }},
                ]},
            }),
        );
        let key = format!("events_{}", id(event));
        channels.insert(
            key.clone(),
            json!({
                "address": format!("{prefix}.events.{{tenant_id}}.{event}"),
                "description": format!("`{event}` events, in the stream {}.", spec.streams.first().map_or("", |s| s.name.as_str())),
                "parameters": tenant.clone(),
                "messages": {"event": {"$ref": format!("#/components/messages/{message_name}")}},
            }),
        );
        operations.insert(
            key.clone(),
            json!({
                "action": "send",
                "channel": {"$ref": format!("#/channels/{key}")},
                "messages": [{"$ref": format!("#/channels/{key}/messages/event")}],
            }),
        );
    }
    messages.insert(
        "Mail".into(),
        message(
            "Mail",
            "A mail for the mailer: the only place a token travels",
            Some("application/json"),
        ),
    );
    for template in &spec.mail_templates {
        let key = format!("mail_{template}");
        channels.insert(
            key.clone(),
            json!({
                "address": format!("{prefix}.mail.{{tenant_id}}.{template}"),
                "description": format!("`{template}` mail, in the work-queue stream {}, read by the mailer only.", spec.streams.get(1).map_or("", |s| s.name.as_str())),
                "parameters": tenant.clone(),
                "messages": {"mail": {"$ref": "#/components/messages/Mail"}},
            }),
        );
        operations.insert(
            key.clone(),
            json!({
                "action": "send",
                "channel": {"$ref": format!("#/channels/{key}")},
                "messages": [{"$ref": format!("#/channels/{key}/messages/mail")}],
            }),
        );
    }
    json!({
        "asyncapi": "3.0.0",
        "info": {
            "title": "Olympus",
            "version": format!("{}.0.0", spec.version),
            "description": "The Olympus wire contract: NATS request-reply subjects of the workers (MessagePack or JSON), their events and mail. Generated from the contracts crate; the prose form is docs/contract.md.",
        },
        "defaultContentType": "application/msgpack",
        "servers": {
            "local": {"host": "127.0.0.1:4222", "protocol": "nats", "description": "A development NATS server."},
        },
        "channels": channels,
        "operations": operations,
        "components": {"schemas": schemas, "messages": messages},
    })
}

/// Pretty JSON with a trailing newline, as committed.
pub fn to_json(spec: &Spec) -> String {
    let mut text = serde_json::to_string_pretty(&document(spec)).unwrap_or_default();
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn committed_asyncapi_document_matches_the_code() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/spec/asyncapi.json");
        let generated = to_json(&Spec::v1());
        if std::env::var_os("UPDATE_SPEC").is_some() {
            std::fs::write(path, &generated).unwrap();
        }
        assert!(
            std::fs::read_to_string(path).unwrap_or_default() == generated,
            "contracts/spec/asyncapi.json is stale; run UPDATE_SPEC=1 cargo test -p olympus-contracts and commit the diff"
        );
    }

    #[test]
    fn every_operation_event_and_mail_has_its_channel() {
        let spec = Spec::v1();
        let doc = document(&spec);
        let addresses: Vec<&str> = doc["channels"]
            .as_object()
            .unwrap()
            .values()
            .filter_map(|c| c["address"].as_str())
            .collect();
        for op in &spec.operations {
            assert!(addresses.contains(&op.subject.as_str()), "{}", op.subject);
        }
        assert_eq!(
            addresses.iter().filter(|a| a.contains(".events.")).count(),
            spec.event_data.len()
        );
        assert_eq!(
            addresses.iter().filter(|a| a.contains(".mail.")).count(),
            spec.mail_templates.len()
        );
        assert!(!doc.to_string().contains("\"#/schemas/"));
        assert!(!doc.to_string().contains("\"#/$defs/"));
    }
}
