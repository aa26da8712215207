//! Fuzzing the workers through real NATS: every request, however malformed,
//! gets exactly one well-formed reply (contract §1: "a worker never crashes,
//! hangs or leaks internals on any input"), never `internal`, and the workers
//! keep serving afterwards.
//!
//! Each case is an operation the workers serve, an encoding (MessagePack,
//! JSON, no `Content-Type`, a bogus one), sometimes a valid bearer token (so
//! that bearer operations reach decoding), and a payload: random bytes,
//! arbitrary values (huge numbers, NaN, long or invalid-UTF-8 strings, binary,
//! ext types), nesting hundreds of levels deep, a valid request with one field
//! of the wrong type, removed, unknown, or an object as an array, a valid
//! request with random strings (reaching the handlers), or over 256 KiB.
//! At most 64 cases are outstanding at once, all replying to one wildcard
//! inbox, so a missing, duplicate or late reply is seen. A failing case is
//! printed with its subject, headers and payload in hex.
//!
//! `OLYMPUS_FUZZ_CASES` sets the number of cases (default 2,000);
//! `OLYMPUS_FUZZ_SEED` replays a run (each run prints its seed). A long run:
//! `OLYMPUS_FUZZ_CASES=100000 cargo test -p olympus-tests --test e2e fuzz -- --nocapture`

use async_nats::HeaderMap;
use futures::StreamExt;
use olympus_tests::client::GOOD_PASSWORD;
use olympus_tests::{with_app, Encoding, Signup};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

/// Contract §3: every code with its status.
const CODES: &[(&str, u16)] = &[
    ("bad_request", 400),
    ("unauthenticated", 401),
    ("invalid_credentials", 401),
    ("invalid_token", 401),
    ("forbidden", 403),
    ("not_found", 404),
    ("conflict", 409),
    ("invalid_state", 409),
    ("insufficient_stock", 409),
    ("idempotency_key_in_use", 409),
    ("payload_too_large", 413),
    ("unsupported_media_type", 415),
    ("idempotency_key_reused", 422),
    ("validation_failed", 422),
    ("rate_limited", 429),
    ("internal", 500),
    ("unavailable", 503),
];

const MAX_OUTSTANDING: usize = 64;
const REPLY_TIMEOUT: Duration = Duration::from_secs(30);

#[tokio::test]
async fn every_fuzzed_request_gets_exactly_one_coded_reply() {
    with_app(async |app| {
        let signup = app.signup(Encoding::Json).await;
        let env = |name: &str| std::env::var(name).ok().map(|v| v.parse::<u64>().unwrap());
        let cases = env("OLYMPUS_FUZZ_CASES").unwrap_or(2_000) as usize;
        let seed = env("OLYMPUS_FUZZ_SEED").unwrap_or_else(|| uuid::Uuid::new_v4().as_u64_pair().0);
        println!("fuzz: {cases} cases, OLYMPUS_FUZZ_SEED={seed}");
        let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &[seed.to_le_bytes(); 4].concat());
        let mut runner = TestRunner::new_with_rng(Config::default(), rng);
        let strategy = case(&signup);

        // One subscription for every reply; a first message proves it is in place.
        let inbox = format!("_INBOX.fuzz.{}", uuid::Uuid::new_v4().simple());
        let mut replies = app.nats.subscribe(format!("{inbox}.*")).await.unwrap();
        app.nats
            .publish(format!("{inbox}.ready"), "".into())
            .await
            .unwrap();
        replies.next().await.unwrap();

        let started = Instant::now();
        let mut outstanding: HashMap<usize, (Case, Instant)> = HashMap::new();
        let mut tally = Tally::default();
        let mut sent = 0;
        while sent < cases || !outstanding.is_empty() {
            while sent < cases && outstanding.len() < MAX_OUTSTANDING {
                let case = strategy.new_tree(&mut runner).unwrap().current();
                let (subject, reply_to) = (app.subject(case.op), format!("{inbox}.{sent}"));
                let payload = case.payload.clone().into();
                app.nats
                    .publish_with_reply_and_headers(subject, reply_to, case.headers(), payload)
                    .await
                    .unwrap();
                outstanding.insert(sent, (case, Instant::now()));
                sent += 1;
            }
            match tokio::time::timeout(Duration::from_secs(1), replies.next()).await {
                Ok(Some(reply)) => {
                    let index = reply.subject.rsplit('.').next().unwrap().parse().ok();
                    match index.and_then(|i| outstanding.remove(&i).map(|c| (i, c.0))) {
                        Some((i, case)) => match check(&case, &reply) {
                            Ok(code) => *tally.codes.entry(code).or_default() += 1,
                            Err((kind, detail)) => {
                                tally.fail(&case, kind, format!("{detail}\n{}", case.dump(i, seed)))
                            }
                        },
                        None => tally.stray(&reply),
                    }
                }
                Ok(None) => panic!("the reply subscription ended"),
                Err(_) => outstanding.retain(|i, (case, at)| {
                    let waiting = at.elapsed() < REPLY_TIMEOUT;
                    if !waiting {
                        tally.fail(
                            case,
                            format!("no reply within {REPLY_TIMEOUT:?}"),
                            case.dump(*i, seed),
                        );
                    }
                    waiting
                }),
            }
        }
        // Strays: a second reply to any case.
        while let Ok(Some(reply)) =
            tokio::time::timeout(Duration::from_secs(1), replies.next()).await
        {
            tally.stray(&reply);
        }

        println!("fuzz: {sent} cases in {:.1?}; replies:", started.elapsed());
        for (code, count) in &tally.codes {
            println!("  {count:>7}  {code}");
        }
        let failed: usize = tally.failures.values().map(Vec::len).sum();
        let report: Vec<String> = tally
            .failures
            .iter()
            .map(|(kind, cases)| {
                format!(
                    "{} x {kind}, e.g.:\n{}",
                    cases.len(),
                    cases[..cases.len().min(3)].join("\n")
                )
            })
            .collect();
        assert_eq!(
            failed,
            0,
            "{failed} of {sent} cases failed (OLYMPUS_FUZZ_SEED={seed}):\n\n{}",
            report.join("\n\n")
        );

        // Still serving, the fuzzed session included.
        app.signup(Encoding::MsgPack).await;
        app.me(&signup.access_token).await.ok();
    })
    .await;
}

/// Reply codes and failures (by kind) so far.
#[derive(Default)]
struct Tally {
    codes: BTreeMap<String, usize>,
    failures: BTreeMap<String, Vec<String>>,
}

impl Tally {
    fn fail(&mut self, case: &Case, kind: String, detail: String) {
        self.failures
            .entry(format!("{}: {kind}", case.op))
            .or_default()
            .push(detail);
    }

    fn stray(&mut self, reply: &async_nats::Message) {
        let kind = "a second or late reply".to_owned();
        self.failures
            .entry(kind)
            .or_default()
            .push(reply.subject.to_string());
    }
}

/// Checks one reply: its `status code` for the tally, or a failure's kind and details.
fn check(case: &Case, reply: &async_nats::Message) -> Result<String, (String, String)> {
    let fail = |kind: &str, detail: String| Err((kind.to_owned(), detail));
    let headers = reply.headers.clone().unwrap_or_default();
    let header = |name: &str| headers.get(name).map(|v| v.as_str().to_owned());
    let content_type = header("Content-Type");
    let json = matches!(case.encoding, Enc::Json(_));
    let expected = if json {
        "application/json"
    } else {
        "application/msgpack"
    };
    if content_type.as_deref() != Some(expected) {
        return fail(
            "wrong reply Content-Type",
            format!("{content_type:?}, expected {expected}"),
        );
    }
    let decoded = match json {
        true => serde_json::from_slice(&reply.payload).map_err(|e| e.to_string()),
        false => rmp_serde::from_slice(&reply.payload).map_err(|e| e.to_string()),
    };
    let body: Value = match decoded {
        Ok(body) => body,
        Err(e) => {
            return fail(
                "reply body does not decode",
                format!("{e}: {:?}", reply.payload),
            )
        }
    };
    let status = match header("Nats-Service-Error-Code").map(|s| s.parse::<u16>()) {
        None if body.is_object() => return Ok("200".to_owned()),
        None => return fail("a success that is not a map", body.to_string()),
        Some(Ok(status)) => status,
        Some(Err(e)) => return fail("unreadable Nats-Service-Error-Code", e.to_string()),
    };
    let code = body["code"].as_str().unwrap_or_default();
    if !CODES.contains(&(code, status)) {
        return fail(
            "status and code not of contract §3",
            format!("{status}: {body}"),
        );
    }
    if code == "internal" {
        return fail("internal", body.to_string());
    }
    if header("Nats-Service-Error").is_none() {
        return fail("no Nats-Service-Error header", body.to_string());
    }
    let correlation_id = header("X-Correlation-Id");
    if body["correlation_id"].as_str() != correlation_id.as_deref() {
        return fail(
            "body and header correlation ids differ",
            format!("{body}, {correlation_id:?}"),
        );
    }
    let sent = case
        .correlation_id
        .as_deref()
        .filter(|id| valid_correlation_id(id));
    if sent.is_some() && sent != correlation_id.as_deref() {
        return fail(
            "valid X-Correlation-Id not echoed",
            format!("{correlation_id:?}"),
        );
    }
    Ok(format!("{status} {code}"))
}

/// Contract §1: 1-128 chars of `[A-Za-z0-9._:-]`.
fn valid_correlation_id(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-_:".contains(&b))
}

// ---------------------------------------------------------------------------
// Cases.

#[derive(Debug, Clone)]
enum Enc {
    /// The `Content-Type` value sent.
    MsgPack(&'static str),
    Json(&'static str),
    Missing,
    Bogus(String),
}

#[derive(Debug, Clone)]
struct Case {
    op: &'static str,
    encoding: Enc,
    authorization: Option<String>,
    correlation_id: Option<String>,
    payload: Vec<u8>,
}

impl Case {
    fn headers(&self) -> HeaderMap {
        let mut headers = HeaderMap::new();
        match &self.encoding {
            Enc::MsgPack(value) | Enc::Json(value) => headers.insert("Content-Type", *value),
            Enc::Bogus(value) => headers.insert("Content-Type", value.as_str()),
            Enc::Missing => {}
        }
        if let Some(value) = &self.authorization {
            headers.insert("Authorization", value.as_str());
        }
        if let Some(value) = &self.correlation_id {
            headers.insert("X-Correlation-Id", value.as_str());
        }
        headers
    }

    /// The case as sent, to reproduce it by hand.
    fn dump(&self, index: usize, seed: u64) -> String {
        let hex = |bytes: &[u8]| bytes.iter().map(|b| format!("{b:02x}")).collect::<String>();
        let shown = &self.payload[..self.payload.len().min(2048)];
        let more = if shown.len() < self.payload.len() {
            "..."
        } else {
            ""
        };
        let headers: Vec<String> = self
            .headers()
            .iter()
            .flat_map(|(k, vs)| vs.iter().map(move |v| format!("{k}: {}", v.as_str())))
            .collect();
        format!(
            "case {index} (seed {seed}): subject {{prefix}}.{}\n  headers: {headers:?}\n  payload ({} bytes): {}{more}",
            self.op,
            self.payload.len(),
            hex(shown)
        )
    }
}

/// The operations the workers serve: whether a token is needed, a valid request.
fn operations(signup: &Signup) -> Vec<(&'static str, bool, Value)> {
    vec![
        (
            "auth.v1.login",
            false,
            json!({"tenant": signup.slug, "email": signup.email, "password": signup.password}),
        ),
        (
            "auth.v1.refresh",
            false,
            json!({"refresh_token": "rt-0123456789"}),
        ),
        (
            "auth.v1.logout",
            false,
            json!({"refresh_token": "rt-0123456789"}),
        ),
        ("auth.v1.me", true, json!({})),
        (
            "auth.v1.verify_email",
            false,
            json!({"token": "vt-0123456789"}),
        ),
        (
            "tenant.v1.create",
            false,
            json!({"slug": "fuzz", "name": "Fuzz", "owner": {
                "email": "owner@fuzz.example.com", "password": GOOD_PASSWORD, "display_name": "F"}}),
        ),
        ("tenant.v1.get", true, json!({"id": signup.tenant_id})),
        (
            "auth.v1.register",
            false,
            json!({"tenant": signup.slug, "email": "member@fuzz.example.com",
                   "password": GOOD_PASSWORD, "display_name": "M"}),
        ),
        ("auth.v1.sessions.list", true, json!({})),
        (
            "auth.v1.sessions.revoke",
            true,
            json!({"session_id": uuid::Uuid::now_v7()}),
        ),
        (
            // A wrong current password: the fuzzed session must live on.
            "auth.v1.change_password",
            true,
            json!({"current_password": "not-the-password", "new_password": GOOD_PASSWORD}),
        ),
        (
            "auth.v1.introspect",
            false,
            json!({"access_token": signup.access_token}),
        ),
        (
            "auth.v1.request_password_reset",
            false,
            json!({"tenant": signup.slug, "email": signup.email}),
        ),
        (
            "auth.v1.reset_password",
            false,
            json!({"token": "rt-0123456789", "new_password": GOOD_PASSWORD}),
        ),
        ("auth.v1.resend_verification", true, json!({})),
        (
            "auth.v1.update_me",
            true,
            json!({"display_name": "Fuzzed", "phone": "+4930123456"}),
        ),
        (
            "auth.v1.accept_invite",
            false,
            json!({"token": "it-0123456789", "password": GOOD_PASSWORD, "display_name": "I"}),
        ),
        (
            "tenant.v1.update",
            true,
            json!({"name": "Fuzzed Inc.", "self_registration": true}),
        ),
        ("tenant.v1.members.list", true, json!({"limit": 5})),
        (
            // The only owner: any other role is the last-owner refusal.
            "tenant.v1.members.set_role",
            true,
            json!({"user_id": signup.user_id, "role": "owner"}),
        ),
        (
            "tenant.v1.members.remove",
            true,
            json!({"user_id": uuid::Uuid::now_v7()}),
        ),
        (
            "tenant.v1.members.invite",
            true,
            json!({"email": "invitee@fuzz.example.com", "role": "member"}),
        ),
        ("tenant.v1.members.invitations.list", true, json!({})),
        (
            "tenant.v1.members.invitations.revoke",
            true,
            json!({"id": uuid::Uuid::now_v7()}),
        ),
        ("tenant.v1.list", true, json!({"status": "active"})),
        ("tenant.v1.suspend", true, json!({"id": signup.tenant_id})),
        (
            "tenant.v1.reactivate",
            true,
            json!({"id": signup.tenant_id}),
        ),
    ]
}

fn case(signup: &Signup) -> impl Strategy<Value = Case> {
    let token = signup.access_token.clone();
    let operations = operations(signup);
    let encoding = prop_oneof![
        4 => prop::sample::select(vec!["application/msgpack"]).prop_map(Enc::MsgPack),
        4 => prop::sample::select(vec!["application/json", "application/json; charset=utf-8"]).prop_map(Enc::Json),
        2 => Just(Enc::Missing),
        1 => prop_oneof![
            prop::sample::select(vec!["", "text/plain", "application/xml", "application/jsonx", "json", "*/*"])
                .prop_map(str::to_owned),
            "[a-z]{1,12}/[a-z0-9.+-]{0,20}",
        ]
        .prop_filter("a supported type", |t| {
            let essence = t.split(';').next().unwrap().trim();
            !["application/json", "application/msgpack"]
                .contains(&essence)
        })
        .prop_map(Enc::Bogus),
    ];
    let authorization = prop_oneof![
        2 => Just(None),
        3 => Just(Some(format!("Bearer {token}"))),
        1 => Just(Some(format!("Bearer {}x", &token[..token.len() - 1]))),
        1 => "(Bearer |bearer |Basic |)[!-~]{0,300}".prop_map(Some),
    ];
    let correlation_id = prop_oneof![3 => Just(None), 1 => "[!-~]{0,140}".prop_map(Some)];
    let public_token = prop::bool::weighted(0.2);
    (
        0..operations.len(),
        encoding,
        authorization,
        public_token,
        correlation_id,
    )
        .prop_flat_map(
            move |(op, encoding, authorization, public_token, correlation_id)| {
                let (name, bearer, valid) = operations[op].clone();
                let json = matches!(encoding, Enc::Json(_) | Enc::Bogus(_));
                // Public operations mostly without a token.
                let authorization = authorization.filter(|_| bearer || public_token);
                payload(V::from(&valid)).prop_map(move |payload| {
                    let mut payload = payload.bytes(json);
                    // Still over 256 KiB, but under NATS's 1 MiB max_payload.
                    payload.truncate(300 * 1024);
                    Case {
                        op: name,
                        encoding: encoding.clone(),
                        authorization: authorization.clone(),
                        correlation_id: correlation_id.clone(),
                        payload,
                    }
                })
            },
        )
}

#[derive(Debug, Clone)]
enum Payload {
    Bytes(Vec<u8>),
    Value(V),
}

impl Payload {
    fn bytes(&self, json: bool) -> Vec<u8> {
        match self {
            Payload::Bytes(bytes) => bytes.clone(),
            Payload::Value(value) => value.encode(json),
        }
    }
}

/// Payloads for an operation whose valid request is `valid`.
fn payload(valid: V) -> BoxedStrategy<Payload> {
    let fields = valid.fields("");
    let strings: Vec<String> = fields
        .iter()
        .filter(|(_, o)| !o)
        .map(|(p, _)| p.clone())
        .collect();
    let maps: Vec<String> = std::iter::once(String::new())
        .chain(fields.iter().filter(|(_, o)| *o).map(|(p, _)| p.clone()))
        .collect();
    let mut families: Vec<(u32, BoxedStrategy<V>)> = vec![
        (2, Just(valid.clone()).boxed()),
        (2, value()),
        (1, deep()),
        (3, {
            // An unknown field, anywhere in any map.
            let valid = valid.clone();
            (
                prop::sample::select(maps),
                "[a-z_]{1,20}|.{0,20}",
                value(),
                any::<prop::sample::Index>(),
            )
                .prop_map(move |(map, name, value, at)| {
                    let mut body = valid.clone();
                    let entries = body.get(&map).entries();
                    entries.insert(at.index(entries.len() + 1), (V::Str(name), value));
                    body
                })
                .boxed()
        }),
        (1, {
            // The whole request as a positional array.
            let V::Map(entries) = valid.clone() else {
                unreachable!()
            };
            Just(V::Array(entries.into_iter().map(|(_, v)| v).collect())).boxed()
        }),
    ];
    if !fields.is_empty() {
        // One field of the wrong type (any value, deep nesting), removed, or
        // an object's values as an array.
        let valid_ = valid.clone();
        let change =
            prop_oneof![5 => value().prop_map(Some), 2 => deep().prop_map(Some), 1 => Just(None)];
        families.push((
            6,
            (prop::sample::select(fields), change, any::<bool>())
                .prop_map(
                    move |((path, object), change, as_array)| match (object, as_array) {
                        (true, true) => {
                            let values = valid_
                                .clone()
                                .get(&path)
                                .entries()
                                .iter()
                                .map(|e| e.1.clone())
                                .collect();
                            valid_.set(&path, Some(V::Array(values)))
                        }
                        _ => valid_.set(&path, change),
                    },
                )
                .boxed(),
        ));
    }
    if !strings.is_empty() {
        // Random strings in the right places: reaches the handlers. Over
        // 256 KiB now and then.
        let (valid_, strings_) = (valid.clone(), strings.clone());
        families.push((
            4,
            prop::collection::vec(
                prop_oneof![
                    ".{0,40}",
                    "[a-z0-9-]{3,20}",
                    "[a-z]{1,10}@[a-z]{1,10}\\.com",
                    "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
                ],
                strings.len(),
            )
            .prop_map(move |values| {
                strings_
                    .iter()
                    .zip(values)
                    .fold(valid_.clone(), |body, (path, value)| {
                        body.set(path, Some(V::Str(value)))
                    })
            })
            .boxed(),
        ));
        let valid_ = valid.clone();
        families.push((
            1,
            (
                prop::sample::select(strings),
                any::<char>(),
                256 * 1024..300 * 1024usize,
            )
                .prop_map(move |(path, c, n)| {
                    valid_.set(&path, Some(V::Str(c.to_string().repeat(n / c.len_utf8()))))
                })
                .boxed(),
        ));
    }
    let values = proptest::strategy::Union::new_weighted(families).prop_map(Payload::Value);
    prop_oneof![
        60 => values,
        20 => prop::collection::vec(any::<u8>(), 0..512).prop_map(Payload::Bytes),
        1 => prop::collection::vec(any::<u8>(), 256 * 1024..260 * 1024).prop_map(Payload::Bytes),
    ]
    .boxed()
}

// ---------------------------------------------------------------------------
// Values: what MessagePack and JSON can carry, written to either. (The same
// as in `contracts/tests/fuzz.rs`.)

#[derive(Debug, Clone, PartialEq)]
enum V {
    Nil,
    Bool(bool),
    Uint(u64),
    Int(i64),
    F64(f64),
    /// A number beyond 64 bits: JSON text as is, MessagePack an f64.
    Big(&'static str),
    Str(String),
    /// MessagePack: a str of invalid UTF-8. JSON: unpaired surrogate escapes.
    BadUtf8(Vec<u8>),
    /// MessagePack bin. JSON: an array of numbers.
    Bin(Vec<u8>),
    /// MessagePack ext. JSON: `[type, bytes...]`.
    Ext(i8, Vec<u8>),
    Array(Vec<V>),
    Map(Vec<(V, V)>),
}

impl V {
    fn encode(&self, json: bool) -> Vec<u8> {
        let mut out = Vec::new();
        match json {
            true => self.json(&mut out),
            false => self.msgpack(&mut out),
        }
        out
    }

    fn msgpack(&self, out: &mut Vec<u8>) {
        use rmp::encode as mp;
        let len = |n: usize| u32::try_from(n).unwrap();
        match self {
            V::Nil => mp::write_nil(out).unwrap(),
            V::Bool(b) => mp::write_bool(out, *b).unwrap(),
            V::Uint(n) => drop(mp::write_uint(out, *n).unwrap()),
            V::Int(n) => drop(mp::write_sint(out, *n).unwrap()),
            V::F64(f) => mp::write_f64(out, *f).unwrap(),
            V::Big(text) => mp::write_f64(out, text.parse().unwrap()).unwrap(),
            V::Str(s) => mp::write_str(out, s).unwrap(),
            V::BadUtf8(bytes) => {
                mp::write_str_len(out, len(bytes.len())).unwrap();
                out.extend(bytes);
            }
            V::Bin(bytes) => mp::write_bin(out, bytes).unwrap(),
            V::Ext(ty, bytes) => {
                mp::write_ext_meta(out, len(bytes.len()), *ty).unwrap();
                out.extend(bytes);
            }
            V::Array(items) => {
                mp::write_array_len(out, len(items.len())).unwrap();
                items.iter().for_each(|item| item.msgpack(out));
            }
            V::Map(entries) => {
                mp::write_map_len(out, len(entries.len())).unwrap();
                for (key, value) in entries {
                    key.msgpack(out);
                    value.msgpack(out);
                }
            }
        }
    }

    fn json(&self, out: &mut Vec<u8>) {
        let bytes = |b: &[u8]| b.iter().map(|b| V::Uint(u64::from(*b))).collect::<Vec<_>>();
        match self {
            V::Nil => out.extend(b"null"),
            V::Bool(b) => out.extend(b.to_string().bytes()),
            V::Uint(n) => out.extend(n.to_string().bytes()),
            V::Int(n) => out.extend(n.to_string().bytes()),
            // `{:?}` is JSON for finite floats; NaN and inf are not JSON.
            V::F64(f) => out.extend(format!("{f:?}").bytes()),
            V::Big(text) => out.extend(text.bytes()),
            V::Str(s) => serde_json::to_writer(&mut *out, s).unwrap(),
            V::BadUtf8(b) => out.extend(
                format!(
                    "\"{}\"",
                    b.iter()
                        .map(|b| format!("\\udc{b:02x}"))
                        .collect::<String>()
                )
                .bytes(),
            ),
            V::Bin(b) => V::Array(bytes(b)).json(out),
            V::Ext(ty, b) => V::Array([vec![V::Int(i64::from(*ty))], bytes(b)].concat()).json(out),
            V::Array(items) => {
                out.push(b'[');
                for (i, item) in items.iter().enumerate() {
                    out.extend(if i == 0 { "" } else { "," }.bytes());
                    item.json(out);
                }
                out.push(b']');
            }
            V::Map(entries) => {
                out.push(b'{');
                for (i, (key, value)) in entries.iter().enumerate() {
                    out.extend(if i == 0 { "" } else { "," }.bytes());
                    match key {
                        V::Str(_) => key.json(out),
                        other => V::Str(String::from_utf8(other.encode(true)).unwrap()).json(out),
                    }
                    out.push(b':');
                    value.json(out);
                }
                out.push(b'}');
            }
        }
    }

    /// Every field's dotted path, and whether it holds an object.
    fn fields(&self, prefix: &str) -> Vec<(String, bool)> {
        let V::Map(entries) = self else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (key, value) in entries {
            let V::Str(key) = key else { continue };
            let path = format!("{prefix}{key}");
            out.push((path.clone(), matches!(value, V::Map(_))));
            out.extend(value.fields(&format!("{path}.")));
        }
        out
    }

    fn entries(&mut self) -> &mut Vec<(V, V)> {
        match self {
            V::Map(entries) => entries,
            other => panic!("not a map: {other:?}"),
        }
    }

    /// The value at a dotted path (`""`: this one).
    fn get(&mut self, path: &str) -> &mut V {
        path.split('.')
            .filter(|k| !k.is_empty())
            .fold(self, |value, key| {
                let entry = value
                    .entries()
                    .iter_mut()
                    .find(|(k, _)| *k == V::Str(key.to_owned()));
                &mut entry.unwrap().1
            })
    }

    /// This value with the field at `path` replaced, or removed if `None`.
    fn set(&self, path: &str, value: Option<V>) -> V {
        let mut copy = self.clone();
        let (map, key) = path.rsplit_once('.').unwrap_or(("", path));
        let entries = copy.get(map).entries();
        let at = entries
            .iter()
            .position(|(k, _)| *k == V::Str(key.to_owned()))
            .unwrap();
        match value {
            Some(value) => entries[at].1 = value,
            None => drop(entries.remove(at)),
        }
        copy
    }
}

impl From<&Value> for V {
    fn from(value: &Value) -> Self {
        match value {
            Value::Null => V::Nil,
            Value::Bool(b) => V::Bool(*b),
            Value::Number(n) => n
                .as_u64()
                .map_or_else(|| V::F64(n.as_f64().unwrap()), V::Uint),
            Value::String(s) => V::Str(s.clone()),
            Value::Array(items) => V::Array(items.iter().map(V::from).collect()),
            Value::Object(map) => V::Map(
                map.iter()
                    .map(|(k, v)| (V::Str(k.clone()), V::from(v)))
                    .collect(),
            ),
        }
    }
}

fn leaf() -> BoxedStrategy<V> {
    let bytes = || prop::collection::vec(any::<u8>(), 0..48);
    let small = prop_oneof![
        Just(V::Nil),
        any::<bool>().prop_map(V::Bool),
        prop_oneof![Just(u64::MAX), Just(0), any::<u64>()].prop_map(V::Uint),
        prop_oneof![Just(i64::MIN), Just(-1), any::<i64>()].prop_map(V::Int),
        prop_oneof![
            Just(f64::NAN),
            Just(f64::INFINITY),
            Just(-0.0),
            any::<f64>()
        ]
        .prop_map(V::F64),
        prop::sample::select(vec![
            "18446744073709551616",
            "-9223372036854775809",
            "1e400",
            "-1E-400"
        ])
        .prop_map(V::Big),
        any::<String>().prop_map(V::Str),
        bytes().prop_map(|mut b| {
            b.insert(0, 0xff); // never in UTF-8
            V::BadUtf8(b)
        }),
        bytes().prop_map(V::Bin),
        (any::<i8>(), bytes()).prop_map(|(ty, b)| V::Ext(ty, b)),
    ];
    let long =
        (any::<char>(), 1_000..70_000usize).prop_map(|(c, n)| V::Str(c.to_string().repeat(n)));
    prop_oneof![40 => small, 1 => long].boxed()
}

/// Field names of the contract, so that arbitrary maps sometimes look right.
fn key() -> BoxedStrategy<V> {
    let names = vec![
        "tenant",
        "email",
        "password",
        "refresh_token",
        "token",
        "slug",
        "name",
        "owner",
        "id",
    ];
    prop_oneof![3 => prop::sample::select(names).prop_map(|k| V::Str(k.to_owned())), 1 => leaf()]
        .boxed()
}

/// Arbitrary values, a few levels of arrays and maps.
fn value() -> BoxedStrategy<V> {
    leaf()
        .prop_recursive(6, 48, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(V::Array),
                prop::collection::vec((key(), inner), 0..6).prop_map(V::Map),
            ]
        })
        .boxed()
}

/// One value under up to 600 levels of arrays and maps.
fn deep() -> BoxedStrategy<V> {
    (1..600usize, any::<u64>(), key(), leaf())
        .prop_map(|(depth, shape, key, leaf)| {
            (0..depth).fold(leaf, |inner, level| match shape >> (level % 64) & 1 {
                0 => V::Array(vec![inner]),
                _ => V::Map(vec![(key.clone(), inner)]),
            })
        })
        .boxed()
}
