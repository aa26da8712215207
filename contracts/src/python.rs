//! The typed Python package's generated modules (`clients/python`), from
//! the same [`Spec`] as `spec/v1.json`: `models.py` (a pydantic class per
//! schema and per event's `data`, enums as enums), `errors.py` (an
//! exception class per error code) and `services.py` (a method per
//! operation, grouped by service). A test fails when the committed files
//! are stale, as for the spec; `UPDATE_SPEC=1 cargo test -p
//! olympus-contracts` rewrites them.
//!
//! The schemas use a small part of JSON Schema (what schemars writes for
//! this crate's types); anything else stops the generation with a panic
//! naming the schema, rather than a wrong model. Compiled for the tests
//! only: the test is the generator.

use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use crate::spec::Spec;

/// Where the package's generated modules live, from the repository root.
pub const PACKAGE_DIR: &str = "clients/python/src/olympus_client";

const HEADER: &str =
    "# Generated from contracts/spec/v1.json by contracts/src/python.rs: do not edit.\n\
# `UPDATE_SPEC=1 cargo test -p olympus-contracts` rewrites it; a test fails when it is stale.\n";

/// The generated modules: `(file name, text)`.
pub fn modules(spec: &Spec) -> Vec<(&'static str, String)> {
    let spec = serde_json::to_value(spec).expect("the spec serializes");
    let schemas = collect(&spec);
    vec![
        ("models.py", models(&spec, &schemas)),
        ("errors.py", errors(&spec)),
        ("services.py", services(&spec, &schemas)),
    ]
}

/// Every named schema: the spec's, then the ones only events define
/// (their `$defs`), and each event's `data` under its title.
fn collect(spec: &Value) -> BTreeMap<String, Value> {
    let mut all: BTreeMap<String, Value> = spec["schemas"]
        .as_object()
        .expect("schemas")
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    for data in spec["event_data"].as_object().expect("event_data").values() {
        if let Some(defs) = data.get("$defs").and_then(Value::as_object) {
            for (name, schema) in defs {
                all.entry(name.clone()).or_insert_with(|| schema.clone());
            }
        }
        let title = data["title"].as_str().expect("an event's data has a title");
        let mut own = data.clone();
        if let Some(own) = own.as_object_mut() {
            own.remove("$defs");
            own.remove("$schema");
        }
        all.insert(title.to_owned(), own);
    }
    all
}

fn ref_name(reference: &str) -> &str {
    reference.rsplit('/').next().unwrap_or(reference)
}

/// The names a schema refers to.
fn references(schema: &Value, out: &mut BTreeSet<String>) {
    match schema {
        Value::Object(map) => {
            if let Some(Value::String(r)) = map.get("$ref") {
                out.insert(ref_name(r).to_owned());
            }
            for v in map.values() {
                references(v, out);
            }
        }
        Value::Array(items) => items.iter().for_each(|v| references(v, out)),
        _ => {}
    }
}

/// Schema names, each after the ones it refers to.
fn ordered(schemas: &BTreeMap<String, Value>) -> Vec<String> {
    fn visit(
        name: &str,
        schemas: &BTreeMap<String, Value>,
        done: &mut BTreeSet<String>,
        out: &mut Vec<String>,
    ) {
        if !done.insert(name.to_owned()) {
            return;
        }
        let mut refs = BTreeSet::new();
        references(&schemas[name], &mut refs);
        for r in refs {
            assert!(schemas.contains_key(&r), "{name} refers to unknown {r}");
            visit(&r, schemas, done, out);
        }
        out.push(name.to_owned());
    }
    let (mut done, mut out) = (BTreeSet::new(), Vec::new());
    for name in schemas.keys() {
        visit(name, schemas, &mut done, &mut out);
    }
    out
}

/// The shapes of a reply that is one of several (`anyOf` of references).
fn reply_union(schema: &Value) -> Option<Vec<&str>> {
    schema
        .get("anyOf")?
        .as_array()?
        .iter()
        .map(|s| s.get("$ref").and_then(Value::as_str).map(ref_name))
        .collect()
}

/// String values of an enum-like schema: `enum`, or `oneOf` of `const`s
/// and `enum`s.
fn enum_values(schema: &Value) -> Option<Vec<String>> {
    if let Some(values) = schema.get("enum").and_then(Value::as_array) {
        return values
            .iter()
            .map(|v| v.as_str().map(str::to_owned))
            .collect();
    }
    let variants = schema.get("oneOf")?.as_array()?;
    let mut out = Vec::new();
    for variant in variants {
        if let Some(c) = variant.get("const").and_then(Value::as_str) {
            out.push(c.to_owned());
        } else {
            out.extend(enum_values(variant)?);
        }
    }
    Some(out)
}

fn literal(values: &[String]) -> String {
    let quoted: Vec<String> = values.iter().map(|v| format!("{v:?}")).collect();
    format!("Literal[{}]", quoted.join(", "))
}

/// The Python type of `schema` (a property's, an item's), in `context`.
fn py_type(schema: &Value, context: &str) -> String {
    // `true`: any value.
    if schema == &Value::Bool(true) {
        return "Any".to_owned();
    }
    let Some(map) = schema.as_object() else {
        panic!("{context}: a schema that is not an object: {schema}");
    };
    if let Some(Value::String(r)) = map.get("$ref") {
        return ref_name(r).to_owned();
    }
    if let Some(any) = map.get("anyOf").and_then(Value::as_array) {
        let types: Vec<String> = any.iter().map(|s| py_type(s, context)).collect();
        return types.join(" | ");
    }
    if let Some(c) = map.get("const").and_then(Value::as_str) {
        return literal(&[c.to_owned()]);
    }
    if let Some(values) = enum_values(schema) {
        return literal(&values);
    }
    let types: Vec<&str> = match map.get("type") {
        None => return "Any".to_owned(),
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
        Some(other) => panic!("{context}: type {other}"),
    };
    let one = |t: &str| -> String {
        match t {
            "string" => match map.get("format").and_then(Value::as_str) {
                Some("uuid") => "UUID".to_owned(),
                Some("date-time") => "datetime".to_owned(),
                _ => "str".to_owned(),
            },
            "integer" => "int".to_owned(),
            "number" => "float".to_owned(),
            "boolean" => "bool".to_owned(),
            "null" => "None".to_owned(),
            "array" => format!(
                "list[{}]",
                py_type(map.get("items").unwrap_or(&Value::Null), context)
            ),
            "object" => {
                assert!(
                    map.get("properties").is_none(),
                    "{context}: an inline object with properties (give it a name)"
                );
                // A map of the caller's keys to values of one schema
                // (option values): typed by that schema.
                match map.get("additionalProperties") {
                    Some(values @ Value::Object(_)) => {
                        format!("dict[str, {}]", py_type(values, context))
                    }
                    _ => "dict[str, Any]".to_owned(),
                }
            }
            other => panic!("{context}: type {other:?}"),
        }
    };
    let mut out: Vec<String> = types.iter().map(|t| one(t)).collect();
    // `None` last, as people write it.
    out.sort_by_key(|t| t == "None");
    out.join(" | ")
}

/// A property name as a Python identifier, and its alias when it is not
/// one.
fn field_name(name: &str) -> (String, Option<&str>) {
    const KEYWORDS: &[&str] = &[
        "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class",
        "continue", "def", "del", "elif", "else", "except", "finally", "for", "from", "global",
        "if", "import", "in", "is", "lambda", "nonlocal", "not", "or", "pass", "raise", "return",
        "try", "while", "with", "yield",
    ];
    if KEYWORDS.contains(&name) {
        (format!("{name}_"), Some(name))
    } else {
        (name.to_owned(), None)
    }
}

/// An enum member's name: `refresh_token_reused` → `REFRESH_TOKEN_REUSED`.
fn member_name(value: &str) -> String {
    let name: String = value
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    if name.starts_with(|c: char| c.is_ascii_digit()) {
        format!("_{name}")
    } else {
        name
    }
}

/// A docstring for `description`, indented by `indent`.
fn docstring(description: Option<&str>, indent: &str) -> String {
    let Some(text) = description.map(str::trim).filter(|t| !t.is_empty()) else {
        return String::new();
    };
    let text = text.replace('\\', "\\\\").replace("\"\"\"", "\\\"\\\"\\\"");
    let body: Vec<String> = text
        .lines()
        .map(|l| {
            if l.is_empty() {
                String::new()
            } else {
                format!("{indent}{l}")
            }
        })
        .collect();
    if body.len() == 1 {
        format!("{indent}\"\"\"{}\"\"\"\n", text)
    } else {
        format!(
            "{indent}\"\"\"{}\n{indent}\"\"\"\n",
            body.join("\n").trim_start()
        )
    }
}

/// The properties of an object schema, required first, each with its
/// Python type (nullable when it may be absent) and whether it is required.
fn properties(name: &str, schema: &Value) -> Vec<(String, String, bool, Option<String>)> {
    let required: BTreeSet<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let empty = Map::new();
    let props = schema
        .get("properties")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let mut out: Vec<(String, String, bool, Option<String>)> = props
        .iter()
        .map(|(field, s)| {
            let mut ty = py_type(s, &format!("{name}.{field}"));
            let is_required = required.contains(field.as_str());
            if !is_required && !ty.split(" | ").any(|t| t == "None") {
                ty = format!("{ty} | None");
            }
            let description = s
                .get("description")
                .and_then(Value::as_str)
                .map(str::to_owned);
            (field.clone(), ty, is_required, description)
        })
        .collect();
    out.sort_by_key(|(_, _, required, _)| !required);
    out
}

fn models(spec: &Value, schemas: &BTreeMap<String, Value>) -> String {
    let mut o = String::from(HEADER);
    o.push_str(
        r#""""The contract's types: every request, reply, shape and event `data`.

Every class is a pydantic model (`Model`); operations' replies (`Reply`)
also carry the `correlation_id` they came with. Enums are `str` enums, so they compare equal
to the wire's strings, and take values a later revision adds (`OpenEnum`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, Union
from uuid import UUID

from pydantic import Field, TypeAdapter

from ._base import Model, OpenEnum, Reply

"#,
    );
    let mut replies: BTreeSet<&str> = spec["operations"]
        .as_array()
        .expect("operations")
        .iter()
        .filter_map(|op| op["reply"].as_str())
        .collect();
    // A reply that is one of several shapes (`auth.login`'s): each shape is
    // a reply too.
    let unions: Vec<&str> = replies
        .iter()
        .copied()
        .filter(|name| reply_union(&schemas[*name]).is_some())
        .collect();
    for union in unions {
        replies.extend(reply_union(&schemas[union]).unwrap_or_default());
    }
    for name in ordered(schemas) {
        let schema = &schemas[&name];
        o.push('\n');
        let description = schema.get("description").and_then(Value::as_str);
        if let Some(values) = enum_values(schema) {
            let _ = writeln!(o, "\nclass {name}(OpenEnum):");
            o.push_str(&docstring(description, "    "));
            for value in values {
                let _ = writeln!(o, "    {} = {value:?}", member_name(&value));
            }
            continue;
        }
        let is_object = schema.get("type").and_then(Value::as_str) == Some("object")
            || schema.get("properties").is_some();
        if !is_object {
            let ty = py_type(schema, &name);
            if name == "Secret" {
                // The spec describes the Rust type, which redacts itself.
                o.push_str(
                    "# A secret (password, token): a plain `str` here. Keep it out of logs.\n",
                );
            } else if let Some(d) = description {
                for line in d.lines() {
                    let _ = writeln!(o, "{}", format!("# {line}").trim_end());
                }
            }
            let _ = writeln!(o, "{name} = {ty}");
            if replies.contains(name.as_str()) {
                // What `Olympus.call` validates a reply of several shapes with.
                let _ = writeln!(
                    o,
                    "{name}Adapter: TypeAdapter[{name}] = TypeAdapter({name})"
                );
            }
            continue;
        }
        let base = if replies.contains(name.as_str()) {
            "Reply"
        } else {
            "Model"
        };
        let _ = writeln!(o, "\nclass {name}({base}):");
        o.push_str(&docstring(description, "    "));
        let props = properties(&name, schema);
        if props.is_empty() && description.is_none() {
            o.push_str("    pass\n");
        }
        for (field, ty, required, field_description) in props {
            let (py, alias) = field_name(&field);
            let default = if required { None } else { Some("None") };
            let value = match (alias, default) {
                (None, None) => String::new(),
                (None, Some(d)) => format!(" = {d}"),
                (Some(a), None) => format!(" = Field(alias={a:?})"),
                (Some(a), Some(d)) => format!(" = Field(default={d}, alias={a:?})"),
            };
            let _ = writeln!(o, "    {py}: {ty}{value}");
            o.push_str(&docstring(field_description.as_deref(), "    "));
        }
    }
    // Events: each type's data class.
    let event_data = spec["event_data"].as_object().expect("event_data");
    o.push_str("\n\n# Each event type's `data` class.\nEVENT_DATA: dict[str, type[Model]] = {\n");
    let mut titles = Vec::new();
    for (event, data) in event_data {
        let title = data["title"].as_str().expect("title");
        titles.push(title.to_owned());
        let _ = writeln!(o, "    {event:?}: {title},");
    }
    o.push_str("}\n\n# The `data` of any event: narrow it with isinstance.\nEventData = Union[\n");
    for title in &titles {
        let _ = writeln!(o, "    {title},");
    }
    o.push_str("]\n");
    o
}

fn class_name(code: &str) -> String {
    code.split('_')
        .map(|part| {
            let mut chars = part.chars();
            match chars.next() {
                Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
                None => String::new(),
            }
        })
        .collect()
}

fn errors(spec: &Value) -> String {
    let mut o = String::from(HEADER);
    o.push_str(
        r#""""One exception class per error code of the contract, all `OlympusError`s.

`RateLimited` and `Unavailable` say when to try again (`retry_after`);
`Unavailable` with `outcome_unknown` did not learn whether its change was
made (retry only with an Idempotency-Key). A time-out or no worker at all
raise `Timeout` and `NoResponders`, which are `TransportError`s: no reply
came.
"""

from __future__ import annotations

from ._errors import NoResponders, OlympusError, RetryAfter, Timeout, TransportError

__all__ = [
    "OlympusError",
    "TransportError",
    "Timeout",
    "NoResponders",
"#,
    );
    let errors = spec["errors"].as_array().expect("errors");
    for error in errors {
        let code = error["code"].as_str().expect("code");
        let _ = writeln!(o, "    {:?},", class_name(code));
    }
    o.push_str("    \"BY_CODE\",\n]\n");
    for error in errors {
        let code = error["code"].as_str().expect("code");
        let status = error["status"].as_u64().expect("status");
        let bases = if matches!(code, "rate_limited" | "unavailable") {
            "RetryAfter, OlympusError"
        } else {
            "OlympusError"
        };
        let _ = writeln!(
            o,
            "\n\nclass {}({bases}):\n    \"\"\"`{code}` ({status}).\"\"\"\n\n    code = {code:?}\n    status = {status}",
            class_name(code)
        );
    }
    o.push_str("\n\n# The class of each code.\nBY_CODE: dict[str, type[OlympusError]] = {\n");
    for error in errors {
        let code = error["code"].as_str().expect("code");
        let _ = writeln!(o, "    {code:?}: {},", class_name(code));
    }
    o.push_str("}\n");
    o
}

fn services(spec: &Value, schemas: &BTreeMap<String, Value>) -> String {
    let mut o = String::from(HEADER);
    o.push_str(
        r#""""One method per operation, grouped by service: `client.auth.login(...)`.

Every argument is keyword-only. An optional field left out is not sent (in
an update, `None` sends nil, which removes the value). Bearer operations
take the access `token`; operations that accept one take an
`idempotency_key`. Each returns the reply's model, whose `correlation_id`
is the request's; an error reply raises its `errors` class.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar, Literal
from uuid import UUID

from . import models
from ._base import UNSET, Caller, Unset
"#,
    );
    let operations = spec["operations"].as_array().expect("operations");
    // The models the parameters name, imported by name.
    let mut named = BTreeSet::new();
    for op in operations {
        let request = op["request"].as_str().expect("request");
        for (_, ty, _, _) in properties(request, &schemas[request]) {
            for word in ty.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
                if schemas.contains_key(word) {
                    named.insert(word.to_owned());
                }
            }
        }
    }
    let _ = writeln!(
        o,
        "from .models import {}
",
        named.into_iter().collect::<Vec<_>>().join(", ")
    );
    let mut services: Vec<&str> = Vec::new();
    for op in operations {
        let service = op["service"].as_str().expect("service");
        if !services.contains(&service) {
            services.push(service);
        }
    }
    for service in services {
        let _ = writeln!(
            o,
            "\nclass {}Service:\n    \"\"\"The `{service}` operations ({{prefix}}.{service}.v1.*).\"\"\"\n\n    # Each method's operation.\n    OPERATIONS: ClassVar[dict[str, str]] = {{",
            class_name(service)
        );
        for op in operations.iter().filter(|op| op["service"] == service) {
            let operation = op["operation"].as_str().expect("operation");
            let _ = writeln!(
                o,
                "        {:?}: {:?},",
                operation.replace('.', "_"),
                format!("{service}.{operation}")
            );
        }
        o.push_str(
            "    }\n\n    def __init__(self, call: Caller) -> None:\n        self._call = call\n",
        );
        for op in operations.iter().filter(|op| op["service"] == service) {
            o.push_str(&method(op, schemas));
        }
        o.push('\n');
    }
    o
}

fn method(op: &Value, schemas: &BTreeMap<String, Value>) -> String {
    let service = op["service"].as_str().expect("service");
    let operation = op["operation"].as_str().expect("operation");
    let request = op["request"].as_str().expect("request");
    let reply = op["reply"].as_str().expect("reply");
    let bearer = op["access"] == "bearer";
    let idempotent = op["idempotency_key"].as_bool().unwrap_or(false);
    let props = properties(request, &schemas[request]);
    let mut params = Vec::new();
    if bearer {
        params.push("token: str".to_owned());
    }
    let mut fields = Vec::new();
    for (field, ty, required, _) in &props {
        let (py, _) = field_name(field);
        if *required {
            params.push(format!("{py}: {ty}"));
        } else {
            params.push(format!("{py}: {ty} | Unset = UNSET"));
        }
        fields.push(format!("{field:?}: {py}"));
    }
    if idempotent {
        params.push("idempotency_key: str | None = None".to_owned());
    }
    params.push("correlation_id: str | None = None".to_owned());
    params.push("timeout: float | None = None".to_owned());
    let who = op["who"].as_str().unwrap_or("anyone");
    let mut doc = format!(
        "`{service}.{operation}` ({}{}, {who}).",
        if bearer { "bearer" } else { "public" },
        if idempotent { ", Idempotency-Key" } else { "" }
    );
    if let Some(d) = schemas[request].get("description").and_then(Value::as_str) {
        if let Some(first) = d.split("\n\n").next() {
            doc = format!("{doc}\n\n{}", first.trim());
        }
    }
    let validator = if reply_union(&schemas[reply]).is_some() {
        format!("{reply}Adapter")
    } else {
        reply.to_owned()
    };
    let mut s = String::new();
    let _ = writeln!(
        s,
        "\n    async def {}(\n        self,\n        *,\n{}    ) -> models.{reply}:",
        operation.replace('.', "_"),
        params
            .iter()
            .map(|p| format!("        {p},\n"))
            .collect::<String>()
    );
    s.push_str(&docstring(Some(&doc), "        "));
    let _ = writeln!(
        s,
        "        return await self._call(\n            {:?},\n            models.{request},\n            models.{validator},\n            {{{}}},\n            token={},\n            idempotency_key={},\n            correlation_id=correlation_id,\n            timeout=timeout,\n        )",
        format!("{service}.v1.{operation}"),
        fields.join(", "),
        if bearer { "token" } else { "None" },
        if idempotent { "idempotency_key" } else { "None" },
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn committed_python_modules_match_the_code() {
        let dir = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../clients/python/src/olympus_client"
        );
        for (file, generated) in modules(&Spec::v1()) {
            let path = format!("{dir}/{file}");
            if std::env::var_os("UPDATE_SPEC").is_some() {
                std::fs::create_dir_all(dir).unwrap();
                std::fs::write(&path, &generated).unwrap();
            }
            let committed = std::fs::read_to_string(&path).unwrap_or_default();
            assert!(
                committed == generated,
                "{}/{file} is stale; run UPDATE_SPEC=1 cargo test -p olympus-contracts and commit the diff",
                PACKAGE_DIR
            );
        }
    }

    #[test]
    fn types_map_as_python_writes_them() {
        let t = |schema: Value| py_type(&schema, "test");
        assert_eq!(
            t(serde_json::json!({"type": "string", "format": "uuid"})),
            "UUID"
        );
        assert_eq!(
            t(serde_json::json!({"type": ["string", "null"]})),
            "str | None"
        );
        assert_eq!(
            t(serde_json::json!({"type": ["null", "integer"]})),
            "int | None"
        );
        assert_eq!(
            t(serde_json::json!({"anyOf": [{"$ref": "#/schemas/Address"}, {"type": "null"}]})),
            "Address | None"
        );
        assert_eq!(
            t(serde_json::json!({"type": "array", "items": {"$ref": "#/$defs/Money"}})),
            "list[Money]"
        );
        assert_eq!(t(serde_json::json!({"const": "card"})), "Literal[\"card\"]");
        assert_eq!(t(serde_json::json!({"description": "anything"})), "Any");
        assert_eq!(field_name("from"), ("from_".to_owned(), Some("from")));
        assert_eq!(member_name("refresh_token_reused"), "REFRESH_TOKEN_REUSED");
        assert_eq!(class_name("invalid_credentials"), "InvalidCredentials");
    }
}
