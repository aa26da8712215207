//! Property-based fuzzing of the request codec (contract §2-3), pure, no network.
//!
//! What it proves, for every request type of the catalog (`REQUESTS`;
//! `every_request_type_of_the_catalog_is_fuzzed` fails when an operation's
//! request type has no entry, or an entry's body or optional fields differ
//! from the contract's schema), in MessagePack and in JSON:
//! - `ContentType::decode` never panics: any input decodes or is a
//!   `DecodeError` with a message (random bytes; arbitrary values with huge
//!   integers, NaN, long and invalid-UTF-8 strings, binary, ext types, arrays,
//!   maps with non-string keys; nesting hundreds of levels deep; valid
//!   requests with damaged bytes);
//! - a valid request changed in one way is refused naming the field by its
//!   dotted path, as `details.field` does on the wire (`owner.email`,
//!   `items[0].quantity`): a field of the wrong type (for the field's kind in
//!   the contract's schema: a string, UUID, enum, integer in its range,
//!   boolean, object or list), a field removed, an unknown field added, an
//!   object sent as an array. Nil and absence are accepted where the field
//!   is optional.
//!
//! `OLYMPUS_FUZZ_CASES` sets the cases per property (default 5,000). A long run:
//! `OLYMPUS_FUZZ_CASES=200000 cargo test --release -p olympus-contracts --test fuzz`.

// Test code: its helpers may panic (the workspace denies it outside tests).
#![allow(clippy::unwrap_used, clippy::panic)]

use olympus_contracts::auth::{
    AcceptInviteRequest, ChangeEmailRequest, ChangePasswordRequest, ConfirmEmailChangeRequest,
    DeleteMeRequest, IntrospectRequest, LoginMfaRequest, LoginRequest, LogoutRequest,
    MfaDisableRequest, RefreshRequest, RegenerateRecoveryCodesRequest, RegisterRequest,
    RequestPasswordResetRequest, ResetPasswordRequest, RevokeSessionRequest, TotpConfirmRequest,
    UpdateMeRequest, VerifyEmailRequest,
};
use olympus_contracts::codec::DecodeError;
use olympus_contracts::commerce::{
    AdjustInventoryRequest, AuthorizePaymentRequest, CheckoutRequest, CreateOrderRequest,
    CreateProductRequest, CreatePromotionRequest, CreateVariantRequest, IdRequest,
    ListOrdersRequest, ListProductsRequest, ListPromotionsRequest, PaymentIdRequest,
    RefundPaymentRequest, SetCartItemRequest, UpdateCartRequest, UpdateProductRequest,
    UpdatePromotionRequest, UpdateVariantRequest,
};
use olympus_contracts::shapes::{Empty, PageRequest};
use olympus_contracts::spec::Spec;
use olympus_contracts::tenant::{
    AuditListRequest, CreateTenantRequest, GetTenantRequest, InviteRequest, ListTenantsRequest,
    RemoveMemberRequest, RevokeInvitationRequest, SetRoleRequest, TenantIdRequest,
    UpdateTenantRequest,
};
use olympus_contracts::ContentType;
use proptest::prelude::*;
use proptest::strategy::Union;
use proptest::test_runner::Config;
use serde::de::DeserializeOwned;
use serde_json::Value as Json;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::LazyLock;

const BOTH: [ContentType; 2] = [ContentType::MsgPack, ContentType::Json];

fn config() -> Config {
    let cases = std::env::var("OLYMPUS_FUZZ_CASES").map_or(5_000, |v| v.parse().unwrap());
    Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    }
}

// ---------------------------------------------------------------------------
// Values: what MessagePack and JSON can carry, written to either.

/// A MessagePack or JSON value, including what only one of them can say.
#[derive(Debug, Clone, PartialEq)]
enum V {
    Nil,
    Bool(bool),
    Uint(u64),
    Int(i64),
    F32(f32),
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
    fn str(s: &str) -> V {
        V::Str(s.to_owned())
    }

    fn encode(&self, ct: ContentType) -> Vec<u8> {
        match ct {
            ContentType::MsgPack => {
                let mut out = Vec::new();
                self.msgpack(&mut out);
                out
            }
            ContentType::Json => {
                let mut out = String::new();
                self.json(&mut out);
                out.into_bytes()
            }
        }
    }

    fn msgpack(&self, out: &mut Vec<u8>) {
        use rmp::encode as mp;
        let len = |n: usize| u32::try_from(n).unwrap();
        match self {
            V::Nil => mp::write_nil(out).unwrap(),
            V::Bool(b) => mp::write_bool(out, *b).unwrap(),
            V::Uint(n) => drop(mp::write_uint(out, *n).unwrap()),
            V::Int(n) => drop(mp::write_sint(out, *n).unwrap()),
            V::F32(f) => mp::write_f32(out, *f).unwrap(),
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

    fn json(&self, out: &mut String) {
        let quoted = |s: &str| serde_json::to_string(s).unwrap();
        match self {
            V::Nil => out.push_str("null"),
            V::Bool(b) => out.push_str(&b.to_string()),
            V::Uint(n) => out.push_str(&n.to_string()),
            V::Int(n) => out.push_str(&n.to_string()),
            V::F32(f) => V::F64(f64::from(*f)).json(out),
            // Rust's `{:?}` is valid JSON for finite floats; NaN and inf are not.
            V::F64(f) if f.is_finite() => out.push_str(&format!("{f:?}")),
            V::F64(f) => out.push_str(&format!("{f}")),
            V::Big(text) => out.push_str(text),
            V::Str(s) => out.push_str(&quoted(s)),
            V::BadUtf8(bytes) => {
                let escapes: String = bytes.iter().map(|b| format!("\\udc{b:02x}")).collect();
                out.push_str(&format!("\"{escapes}\""));
            }
            V::Bin(bytes) => {
                V::Array(bytes.iter().map(|b| V::Uint(u64::from(*b))).collect()).json(out)
            }
            V::Ext(ty, bytes) => {
                let ty = std::iter::once(V::Int(i64::from(*ty)));
                V::Array(
                    ty.chain(bytes.iter().map(|b| V::Uint(u64::from(*b))))
                        .collect(),
                )
                .json(out);
            }
            V::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    out.push_str(if i == 0 { "" } else { "," });
                    item.json(out);
                }
                out.push(']');
            }
            V::Map(entries) => {
                out.push('{');
                for (i, (key, value)) in entries.iter().enumerate() {
                    out.push_str(if i == 0 { "" } else { "," });
                    match key {
                        V::Str(s) => out.push_str(&quoted(s)),
                        other => out.push_str(&quoted(
                            &String::from_utf8(other.encode(ContentType::Json)).unwrap(),
                        )),
                    }
                    out.push(':');
                    value.json(out);
                }
                out.push('}');
            }
        }
    }

    fn entries(&mut self) -> &mut Vec<(V, V)> {
        match self {
            V::Map(entries) => entries,
            other => panic!("not a map: {other:?}"),
        }
    }

    /// One step down: a map's field or an array's element.
    fn step(&mut self, step: Step) -> &mut V {
        match (self, step) {
            (V::Map(entries), Step::Key(key)) => {
                let entry = entries.iter_mut().find(|(k, _)| *k == V::str(key));
                &mut entry.unwrap().1
            }
            (V::Array(items), Step::Index(at)) => &mut items[at],
            (other, step) => panic!("no {step:?} in {other:?}"),
        }
    }

    /// The value at a path (`owner.email`, `items[0].quantity`).
    fn get(&mut self, path: &str) -> &mut V {
        steps(path).into_iter().fold(self, V::step)
    }

    /// This value with the field at `path` replaced, or removed if `None`.
    fn with(&self, path: &str, value: Option<V>) -> V {
        let mut copy = self.clone();
        let mut steps = steps(path);
        let last = steps.pop().unwrap();
        let parent = steps.into_iter().fold(&mut copy, V::step);
        match (parent, last) {
            (V::Map(entries), Step::Key(key)) => {
                let at = entries.iter().position(|(k, _)| *k == V::str(key)).unwrap();
                match value {
                    Some(value) => entries[at].1 = value,
                    None => drop(entries.remove(at)),
                }
            }
            (V::Array(items), Step::Index(at)) => match value {
                Some(value) => items[at] = value,
                None => drop(items.remove(at)),
            },
            (other, step) => panic!("no {step:?} in {other:?}"),
        }
        copy
    }
}

/// A step of a path: `items[0].quantity` is `items`, `[0]`, `quantity`.
#[derive(Debug, Clone, Copy)]
enum Step<'a> {
    Key(&'a str),
    Index(usize),
}

/// A path as `details.field` writes it, in steps.
fn steps(path: &str) -> Vec<Step<'_>> {
    path.split('.')
        .flat_map(|piece| {
            let mut parts = piece.split('[');
            let key = Step::Key(parts.next().unwrap());
            let indices = parts.map(|i| Step::Index(i.trim_end_matches(']').parse().unwrap()));
            std::iter::once(key).chain(indices)
        })
        .collect()
}

impl From<&serde_json::Value> for V {
    fn from(value: &serde_json::Value) -> Self {
        use serde_json::Value as J;
        match value {
            J::Null => V::Nil,
            J::Bool(b) => V::Bool(*b),
            J::Number(n) => n
                .as_u64()
                .map(V::Uint)
                .or_else(|| n.as_i64().map(V::Int))
                .unwrap_or_else(|| V::F64(n.as_f64().unwrap())),
            J::String(s) => V::str(s),
            J::Array(items) => V::Array(items.iter().map(V::from).collect()),
            J::Object(map) => V::Map(map.iter().map(|(k, v)| (V::str(k), V::from(v))).collect()),
        }
    }
}

// ---------------------------------------------------------------------------
// Strategies.

fn leaf() -> BoxedStrategy<V> {
    let bytes = || prop::collection::vec(any::<u8>(), 0..48);
    let small = prop_oneof![
        Just(V::Nil),
        any::<bool>().prop_map(V::Bool),
        prop_oneof![Just(u64::MAX), Just(0), any::<u64>()].prop_map(V::Uint),
        prop_oneof![Just(i64::MIN), Just(-1), any::<i64>()].prop_map(V::Int),
        any::<f32>().prop_map(V::F32),
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
            "123456789012345678901234567890",
            "1e400",
            "-1E-400",
            "0.000000000000000000000000000000000000000001",
        ])
        .prop_map(V::Big),
        any::<String>().prop_map(V::Str),
        "[a-z_]{1,12}".prop_map(V::Str),
        // Invalid UTF-8 (0xff never appears in it), under 16 bytes: see `not_a_string`.
        prop::collection::vec(any::<u8>(), 0..14).prop_map(|mut b| {
            b.insert(0, 0xff);
            V::BadUtf8(b)
        }),
        bytes().prop_map(V::Bin),
        (any::<i8>(), bytes()).prop_map(|(ty, b)| V::Ext(ty, b)),
    ];
    let long =
        (any::<char>(), 1_000..70_000usize).prop_map(|(c, n)| V::Str(c.to_string().repeat(n)));
    prop_oneof![40 => small, 1 => long].boxed()
}

/// Field names of the contract (every request's), so that arbitrary maps
/// sometimes look right.
static NAMES: LazyLock<Vec<String>> = LazyLock::new(|| {
    let names: BTreeSet<String> = (0..REQUESTS.len())
        .flat_map(|request| &parsed(request).1)
        .filter_map(|field| field.path.rsplit('.').next())
        .filter(|name| !name.ends_with(']'))
        .map(str::to_owned)
        .collect();
    names.into_iter().collect()
});

fn key() -> BoxedStrategy<V> {
    prop_oneof![
        3 => prop::sample::select(NAMES.as_slice()).prop_map(V::Str),
        1 => leaf(),
    ]
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

// ---------------------------------------------------------------------------
// The request types.

/// A request type: how to decode it, a valid body, its optional fields.
struct Request {
    /// The type's name, which is its schema's name in the spec.
    name: &'static str,
    decode: fn(ContentType, &[u8]) -> Result<(), DecodeError>,
    /// A valid body with every field of the contract (a list with one
    /// element): the mutations change each of its fields.
    valid: &'static str,
    /// The paths of the fields that may be absent or nil.
    optional: &'static [&'static str],
}

fn decode<T: DeserializeOwned>(ct: ContentType, bytes: &[u8]) -> Result<(), DecodeError> {
    ct.decode::<T>(bytes).map(drop)
}

/// A [`Request`] of the type `$type`, named after it.
macro_rules! request {
    ($type:ident, $valid:expr, [$($optional:literal),* $(,)?] $(,)?) => {
        Request {
            name: stringify!($type),
            decode: decode::<$type>,
            valid: $valid,
            optional: &[$($optional),*],
        }
    };
}

/// Every request type of the catalog (`operation.rs`), once, in the order
/// the catalog first uses it.
const REQUESTS: &[Request] = &[
    // auth
    request!(
        RegisterRequest,
        r#"{"tenant": "acme", "email": "ada@acme.example", "password": "velvet-orbit",
            "display_name": "Ada"}"#,
        ["display_name"],
    ),
    request!(
        LoginRequest,
        r#"{"tenant": "acme", "email": "ada@acme.example", "password": "velvet-orbit"}"#,
        [],
    ),
    request!(RefreshRequest, r#"{"refresh_token": "rt-0123456789"}"#, []),
    request!(LogoutRequest, r#"{"refresh_token": "rt-0123456789"}"#, []),
    request!(Empty, "{}", []),
    request!(
        UpdateMeRequest,
        r#"{"display_name": "Ada L.", "phone": "+4930123456"}"#,
        ["display_name", "phone"],
    ),
    request!(VerifyEmailRequest, r#"{"token": "vt-0123456789"}"#, []),
    request!(
        RequestPasswordResetRequest,
        r#"{"tenant": "acme", "email": "ada@acme.example"}"#,
        [],
    ),
    request!(
        ResetPasswordRequest,
        r#"{"token": "pr-0123456789", "new_password": "amber-comet"}"#,
        [],
    ),
    request!(
        ChangePasswordRequest,
        r#"{"current_password": "velvet-orbit", "new_password": "amber-comet"}"#,
        [],
    ),
    request!(
        RevokeSessionRequest,
        r#"{"session_id": "0193a5a0-7b7e-7c8e-9a1b-2c3d4e5f6a01"}"#,
        [],
    ),
    request!(
        LoginMfaRequest,
        r#"{"mfa_token": "mt-0123456789", "code": "123456", "recovery_code": "abcd-efgh-ijkl"}"#,
        ["code", "recovery_code"],
    ),
    request!(
        TotpConfirmRequest,
        r#"{"enrollment_id": "0193a5a0-7b7e-7c8e-9a1b-2c3d4e5f6a01", "code": "123456"}"#,
        [],
    ),
    request!(
        MfaDisableRequest,
        r#"{"password": "velvet-orbit", "code": "123456", "recovery_code": "abcd-efgh-ijkl"}"#,
        ["code", "recovery_code"],
    ),
    request!(RegenerateRecoveryCodesRequest, r#"{"code": "123456"}"#, [],),
    request!(
        ChangeEmailRequest,
        r#"{"new_email": "ada@example.com", "password": "velvet-orbit"}"#,
        [],
    ),
    request!(
        ConfirmEmailChangeRequest,
        r#"{"token": "ec-0123456789"}"#,
        [],
    ),
    request!(
        DeleteMeRequest,
        r#"{"password": "velvet-orbit", "code": "123456"}"#,
        ["code"],
    ),
    request!(
        IntrospectRequest,
        r#"{"access_token": "at-0123456789"}"#,
        []
    ),
    request!(
        AcceptInviteRequest,
        r#"{"token": "it-0123456789", "password": "velvet-orbit", "display_name": "Ada"}"#,
        ["display_name"],
    ),
    // tenant
    request!(
        CreateTenantRequest,
        r#"{"slug": "acme", "name": "Acme",
            "owner": {"email": "ada@acme.example", "password": "velvet-orbit", "display_name": "Ada"}}"#,
        ["owner.display_name"],
    ),
    request!(
        GetTenantRequest,
        r#"{"id": "0193a5a0-7b7e-7c8e-9a1b-2c3d4e5f6a7b"}"#,
        ["id"],
    ),
    request!(
        UpdateTenantRequest,
        r#"{"name": "Acme Ltd", "self_registration": true, "require_mfa": true}"#,
        ["name", "self_registration", "require_mfa"],
    ),
    request!(
        AuditListRequest,
        r#"{"limit": 20, "cursor": "c-0123456789", "type": "user.logged_in",
            "actor_id": "0193a5a0-7b7e-7c8e-9a1b-2c3d4e5f6a01",
            "since": "2026-01-01T00:00:00Z", "until": "2026-02-01T00:00:00Z"}"#,
        ["limit", "cursor", "type", "actor_id", "since", "until"],
    ),
    request!(
        PageRequest,
        r#"{"limit": 20, "cursor": "c-0123456789"}"#,
        ["limit", "cursor"],
    ),
    request!(
        SetRoleRequest,
        r#"{"user_id": "0193a5a0-7b7e-7c8e-9a1b-2c3d4e5f6a02", "role": "admin"}"#,
        [],
    ),
    request!(
        RemoveMemberRequest,
        r#"{"user_id": "0193a5a0-7b7e-7c8e-9a1b-2c3d4e5f6a03"}"#,
        [],
    ),
    request!(
        InviteRequest,
        r#"{"email": "grace@acme.example", "role": "member"}"#,
        [],
    ),
    request!(
        RevokeInvitationRequest,
        r#"{"id": "0193a5a0-7b7e-7c8e-9a1b-2c3d4e5f6a04"}"#,
        [],
    ),
    request!(
        ListTenantsRequest,
        r#"{"limit": 50, "cursor": "c-0123456789", "status": "suspended"}"#,
        ["limit", "cursor", "status"],
    ),
    request!(
        TenantIdRequest,
        r#"{"id": "0193a5a0-7b7e-7c8e-9a1b-2c3d4e5f6a05"}"#,
        [],
    ),
    // commerce
    request!(
        CreateProductRequest,
        r#"{"sku": "MUG-01", "name": "Mug", "description": "Stoneware, 300 ml",
            "price": {"amount": 1999, "currency": "EUR"}, "stock": 12}"#,
        ["description", "stock"],
    ),
    request!(
        IdRequest,
        r#"{"id": "0193a5a0-7b7e-7c8e-9a1b-2c3d4e5f6a06"}"#,
        [],
    ),
    request!(
        ListProductsRequest,
        r#"{"limit": 20, "cursor": "c-0123456789", "status": "archived", "q": "mug"}"#,
        ["limit", "cursor", "status", "q"],
    ),
    request!(
        UpdateProductRequest,
        r#"{"id": "0193a5a0-7b7e-7c8e-9a1b-2c3d4e5f6a07", "name": "Big mug",
            "description": "Stoneware, 450 ml", "price": {"amount": 2499, "currency": "EUR"},
            "status": "active"}"#,
        ["name", "description", "price", "status"],
    ),
    request!(
        AdjustInventoryRequest,
        r#"{"variant_id": "0193a5a0-7b7e-7c8e-9a1b-2c3d4e5f6a07",
            "product_id": "0193a5a0-7b7e-7c8e-9a1b-2c3d4e5f6a08", "delta": -3,
            "reason": "breakage"}"#,
        ["variant_id", "product_id", "reason"],
    ),
    request!(
        CreateVariantRequest,
        r#"{"product_id": "0193a5a0-7b7e-7c8e-9a1b-2c3d4e5f6a08", "sku": "MUG-1-L",
            "option_values": {"size": "L", "color": "blue"},
            "price": {"amount": 1500, "currency": "EUR"}, "stock": 4}"#,
        ["stock"],
    ),
    request!(
        UpdateVariantRequest,
        r#"{"id": "0193a5a0-7b7e-7c8e-9a1b-2c3d4e5f6a08",
            "price": {"amount": 1500, "currency": "EUR"}, "status": "archived"}"#,
        ["price", "status"],
    ),
    request!(
        CreatePromotionRequest,
        r#"{"code": "SUMMER-25", "kind": "percentage", "percent": 25,
            "amount": {"amount": 500, "currency": "EUR"},
            "min_subtotal": {"amount": 2000, "currency": "EUR"},
            "starts_at": "2026-06-01T00:00:00Z", "ends_at": "2026-09-01T00:00:00Z",
            "usage_limit": 100, "per_customer_limit": 1}"#,
        [
            "percent",
            "amount",
            "min_subtotal",
            "starts_at",
            "ends_at",
            "usage_limit",
            "per_customer_limit",
        ],
    ),
    request!(
        ListPromotionsRequest,
        r#"{"limit": 50, "cursor": "c-0123456789", "status": "active"}"#,
        ["limit", "cursor", "status"],
    ),
    request!(
        UpdatePromotionRequest,
        r#"{"id": "0193a5a0-7b7e-7c8e-9a1b-2c3d4e5f6a08", "status": "disabled",
            "ends_at": "2026-09-01T00:00:00Z", "usage_limit": 10}"#,
        ["status", "ends_at", "usage_limit"],
    ),
    request!(
        SetCartItemRequest,
        r#"{"cart_id": "0193a5a0-7b7e-7c8e-9a1b-2c3d4e5f6a0d",
            "variant_id": "0193a5a0-7b7e-7c8e-9a1b-2c3d4e5f6a0a", "quantity": 2}"#,
        [],
    ),
    request!(
        UpdateCartRequest,
        r#"{"cart_id": "0193a5a0-7b7e-7c8e-9a1b-2c3d4e5f6a0d",
            "shipping_address": {"name": "Ada Lovelace", "line1": "Unter den Linden 1",
                "line2": "3rd floor", "city": "Berlin", "region": "Berlin",
                "postal_code": "10117", "country": "DE"},
            "billing_address": {"name": "Acme GmbH", "line1": "Friedrichstr. 2",
                "line2": "c/o Ada", "city": "Berlin", "region": "BE",
                "postal_code": "10117", "country": "DE"},
            "contact_phone": "+4930123456", "promotion_code": "summer-25"}"#,
        [
            "shipping_address",
            "shipping_address.line2",
            "shipping_address.region",
            "billing_address",
            "billing_address.line2",
            "billing_address.region",
            "contact_phone",
            "promotion_code",
        ],
    ),
    request!(
        CheckoutRequest,
        r#"{"cart_id": "0193a5a0-7b7e-7c8e-9a1b-2c3d4e5f6a0d",
            "payment_method": {"type": "card", "token": "tok_visa"}}"#,
        ["payment_method"],
    ),
    request!(
        CreateOrderRequest,
        r#"{"items": [{"variant_id": "0193a5a0-7b7e-7c8e-9a1b-2c3d4e5f6a0a",
                       "product_id": "0193a5a0-7b7e-7c8e-9a1b-2c3d4e5f6a09", "quantity": 2}],
            "shipping_address": {"name": "Ada Lovelace", "line1": "Unter den Linden 1",
                "line2": "3rd floor", "city": "Berlin", "region": "Berlin",
                "postal_code": "10117", "country": "DE"},
            "billing_address": {"name": "Acme GmbH", "line1": "Friedrichstr. 2",
                "line2": "c/o Ada", "city": "Berlin", "region": "BE",
                "postal_code": "10117", "country": "DE"},
            "contact_phone": "+4930123456"}"#,
        [
            "items[0].variant_id",
            "items[0].product_id",
            "shipping_address",
            "shipping_address.line2",
            "shipping_address.region",
            "billing_address",
            "billing_address.line2",
            "billing_address.region",
            "contact_phone",
        ],
    ),
    request!(
        ListOrdersRequest,
        r#"{"limit": 100, "cursor": "c-0123456789", "status": "pending_payment"}"#,
        ["limit", "cursor", "status"],
    ),
    request!(
        AuthorizePaymentRequest,
        r#"{"order_id": "0193a5a0-7b7e-7c8e-9a1b-2c3d4e5f6a0a",
            "method": {"type": "card", "token": "tok_visa"}}"#,
        [],
    ),
    request!(
        PaymentIdRequest,
        r#"{"payment_id": "0193a5a0-7b7e-7c8e-9a1b-2c3d4e5f6a0b"}"#,
        [],
    ),
    request!(
        RefundPaymentRequest,
        r#"{"payment_id": "0193a5a0-7b7e-7c8e-9a1b-2c3d4e5f6a0c",
            "amount": {"amount": 500, "currency": "EUR"}}"#,
        ["amount"],
    ),
];

/// A field of a request: its path as `details.field` writes it
/// (`owner.email`, `items[0]`, `items[0].quantity`) and its kind.
#[derive(Debug, Clone)]
struct Field {
    path: String,
    kind: Kind,
}

impl Field {
    /// An element of a list, not a field of a map: it cannot be removed.
    fn element(&self) -> bool {
        self.path.ends_with(']')
    }
}

/// What a field holds, by its schema in the contract: what the mutations
/// send instead.
#[derive(Debug, Clone, PartialEq)]
enum Kind {
    Object,
    /// A map of the caller's keys to values of one schema (option values):
    /// no key is unknown.
    Map,
    /// A list of objects.
    List,
    Str,
    Uuid,
    /// An RFC 3339 time.
    DateTime,
    /// One of these strings.
    Enum(Vec<String>),
    /// An integer from .. to.
    Int(i128, i128),
    Bool,
}

impl Kind {
    /// The kind of a field of this schema.
    fn of(schema: &Json) -> Kind {
        let schema = resolve(schema);
        if let Some(values) = schema.get("enum").and_then(Json::as_array) {
            return Kind::Enum(values.iter().map(|v| v.as_str().unwrap().into()).collect());
        }
        let ty = match &schema["type"] {
            Json::Array(types) => types.iter().find(|t| *t != "null").unwrap(),
            ty => ty,
        };
        let format = schema.get("format").and_then(Json::as_str);
        match (ty.as_str().unwrap(), format) {
            ("object", None)
                if schema.get("properties").is_none()
                    && schema["additionalProperties"].is_object() =>
            {
                Kind::Map
            }
            ("object", None) => Kind::Object,
            ("array", None) if Kind::of(&schema["items"]) == Kind::Object => Kind::List,
            ("string", None) => Kind::Str,
            ("string", Some("uuid")) => Kind::Uuid,
            ("string", Some("date-time")) => Kind::DateTime,
            ("integer", Some("int64")) => Kind::Int(i64::MIN.into(), i64::MAX.into()),
            ("integer", Some("uint32")) => Kind::Int(0, u32::MAX.into()),
            ("boolean", None) => Kind::Bool,
            _ => {
                panic!("a field the fuzzer cannot mutate yet (teach `Kind` and `wrong`): {schema}")
            }
        }
    }

    /// Whether a refusal may name an element of the field rather than the
    /// field: a UUID is also read from an array of 16 bytes (`id[0]`), a
    /// list names its wrong element (`items[0]`).
    fn has_elements(&self) -> bool {
        matches!(self, Kind::Uuid | Kind::List)
    }
}

/// The contract's JSON Schema of every request and reply, by name.
static SCHEMAS: LazyLock<serde_json::Map<String, Json>> = LazyLock::new(|| Spec::v1().schemas);

/// A field's schema with `$ref` and "this or nil" (`anyOf [T, null]`) followed.
fn resolve(schema: &Json) -> &Json {
    if let Some(name) = schema.get("$ref").and_then(Json::as_str) {
        return resolve(&SCHEMAS[name.strip_prefix("#/schemas/").unwrap()]);
    }
    if let Some(any) = schema.get("anyOf").and_then(Json::as_array) {
        if let [one] = &any
            .iter()
            .filter(|s| s["type"] != "null")
            .collect::<Vec<_>>()[..]
        {
            return resolve(one);
        }
    }
    schema
}

/// The fields of a request type by its schema, each with whether it is
/// required; a list's fields as those of its first element.
fn contract_fields(name: &str) -> BTreeMap<String, bool> {
    fn walk(schema: &Json, prefix: &str, out: &mut BTreeMap<String, bool>) {
        let schema = resolve(schema);
        let required = |key: &str| {
            schema["required"]
                .as_array()
                .is_some_and(|r| r.iter().any(|r| r == key))
        };
        for (key, field) in schema["properties"].as_object().into_iter().flatten() {
            let path = format!("{prefix}{key}");
            out.insert(path.clone(), required(key));
            match Kind::of(field) {
                Kind::Object => walk(field, &format!("{path}."), out),
                Kind::List => walk(&resolve(field)["items"], &format!("{path}[0]."), out),
                _ => {}
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(&SCHEMAS[name], "", &mut out);
    out
}

impl Request {
    fn valid(&self) -> V {
        V::from(&serde_json::from_str::<serde_json::Value>(self.valid).unwrap())
    }

    /// Every field of the valid body, maps' and lists' alike, with its
    /// kind by the contract.
    fn fields(&self) -> Vec<Field> {
        fn walk(value: &V, schema: &Json, prefix: &str, out: &mut Vec<Field>) {
            let schema = resolve(schema);
            let mut visit = |path: String, value: &V, field: &Json| {
                assert!(!field.is_null(), "{path} is no field of the contract");
                let kind = Kind::of(field);
                // A map's entries are the caller's, not the contract's.
                let entries = kind != Kind::Map;
                out.push(Field {
                    path: path.clone(),
                    kind,
                });
                if entries {
                    walk(value, field, &path, out);
                }
            };
            match value {
                V::Map(entries) => {
                    for (key, value) in entries {
                        let V::Str(key) = key else { unreachable!() };
                        let path = match prefix {
                            "" => key.clone(),
                            _ => format!("{prefix}.{key}"),
                        };
                        // A map of the caller's keys (option values) has
                        // one schema for every value.
                        let field = match &schema["properties"][key] {
                            Json::Null => &schema["additionalProperties"],
                            field => field,
                        };
                        visit(path, value, field);
                    }
                }
                V::Array(items) => {
                    for (i, value) in items.iter().enumerate() {
                        visit(format!("{prefix}[{i}]"), value, &schema["items"]);
                    }
                }
                _ => {}
            }
        }
        let mut out = Vec::new();
        walk(&self.valid(), &SCHEMAS[self.name], "", &mut out);
        out
    }
}

/// Each request's valid body and fields, by its index in [`REQUESTS`].
fn parsed(request: usize) -> &'static (V, Vec<Field>) {
    static PARSED: LazyLock<Vec<(V, Vec<Field>)>> =
        LazyLock::new(|| REQUESTS.iter().map(|r| (r.valid(), r.fields())).collect());
    &PARSED[request]
}

// ---------------------------------------------------------------------------
// Mutations of a valid request, with the outcome the contract asks for.

#[derive(Debug, Clone)]
enum Expect {
    Ok,
    /// Refused, naming this field; with this exact message when given. When
    /// `elements`, an element of the field may be named instead
    /// ([`Kind::has_elements`]).
    Field {
        path: String,
        message: Option<String>,
        elements: bool,
    },
    /// Refused as not a map at the top (no field).
    NotAMap,
}

/// Arrays, maps and deep nesting.
fn containers() -> BoxedStrategy<V> {
    prop_oneof![
        prop::collection::vec(value(), 0..4).prop_map(V::Array),
        prop::collection::vec((key(), value()), 0..4).prop_map(V::Map),
        deep(),
    ]
    .boxed()
}

/// Anything but a string where a string is expected. (Not bin: MessagePack
/// bin holding valid UTF-8 is read as a string, and a 16-byte bin or
/// invalid-UTF-8 str as a UUID's bytes.)
fn not_a_string(uuid: bool) -> BoxedStrategy<V> {
    let other = leaf().prop_filter("a string or bin", |v| !matches!(v, V::Str(_) | V::Bin(_)));
    match uuid {
        false => prop_oneof![other, containers()].boxed(),
        true => prop_oneof![other, containers(), "[g-z -]{0,40}".prop_map(V::Str)].boxed(),
    }
}

/// A value a field of this kind refuses (nil aside, which an optional
/// field takes).
fn wrong(kind: &Kind) -> BoxedStrategy<V> {
    match kind {
        // Not a map where a map is expected: any leaf (arrays: see `mutations`).
        Kind::Object | Kind::Map => leaf(),
        Kind::Str => not_a_string(false),
        Kind::Uuid => not_a_string(true),
        // Not a string, or a string that is no time.
        Kind::DateTime => {
            prop_oneof![not_a_string(false), "[a-z :]{0,16}".prop_map(V::Str)].boxed()
        }
        Kind::Enum(values) => {
            // Anything but a string, a value's index in MessagePack included.
            let not_a_name = not_a_string(false);
            let other = {
                let values = values.clone();
                "[a-z_]{0,16}".prop_filter("a value", move |s| !values.contains(s))
            };
            // serde's form of an enum as a map, `{"admin": nil}`.
            let tagged = (prop::sample::select(values.clone()), value())
                .prop_map(|(tag, value)| V::Map(vec![(V::Str(tag), value)]));
            prop_oneof![not_a_name, other.prop_map(V::Str), tagged].boxed()
        }
        Kind::Int(min, max) => {
            let (min, max) = (*min, *max);
            let fits = move |n: i128| (min..=max).contains(&n);
            let other = leaf().prop_filter("an integer in range", move |v| match v {
                V::Uint(n) => !fits(i128::from(*n)),
                V::Int(n) => !fits(i128::from(*n)),
                _ => true,
            });
            // Just out of range, and far.
            let mut beyond = Vec::new();
            if let Ok(above) = u64::try_from(max + 1) {
                beyond.push(
                    prop_oneof![Just(above), above..=u64::MAX]
                        .prop_map(V::Uint)
                        .boxed(),
                );
            }
            if let Ok(below) = i64::try_from(min - 1) {
                beyond.push(
                    prop_oneof![Just(below), i64::MIN..=below]
                        .prop_map(V::Int)
                        .boxed(),
                );
            }
            prop_oneof![other, Union::new(beyond), containers()].boxed()
        }
        Kind::Bool => {
            let other = leaf().prop_filter("a bool", |v| !matches!(v, V::Bool(_)));
            prop_oneof![other, containers()].boxed()
        }
        Kind::List => {
            // Not an empty list: JSON writes an empty bin as `[]`.
            let other = leaf().prop_filter("empty", |v| !matches!(v, V::Bin(b) if b.is_empty()));
            let not_maps = prop::collection::vec(leaf(), 1..4).prop_map(V::Array);
            prop_oneof![other, not_maps, containers()]
                .prop_filter(
                    "an empty list",
                    |v| !matches!(v, V::Array(a) if a.is_empty()),
                )
                .boxed()
        }
    }
}

fn mutations(request: &'static Request) -> BoxedStrategy<(&'static str, String, V, Expect)> {
    let valid = request.valid();
    let fields = request.fields();
    let mut all: Vec<BoxedStrategy<(String, V, Expect)>> = Vec::new();
    for field in &fields {
        let path = field.path.clone();
        let optional = request.optional.contains(&path.as_str());
        let elements = field.kind.has_elements();
        let (body, at) = (valid.clone(), path.clone());
        all.push(
            wrong(&field.kind)
                .prop_map(move |wrong| {
                    let expect = match wrong {
                        V::Nil if optional => Expect::Ok,
                        _ => Expect::Field {
                            path: at.clone(),
                            message: None,
                            elements,
                        },
                    };
                    (
                        format!("{at} of the wrong type"),
                        body.with(&at, Some(wrong)),
                        expect,
                    )
                })
                .boxed(),
        );
        if !field.element() {
            let last = path.rsplit('.').next().unwrap();
            let expect = match optional {
                true => Expect::Ok,
                false => Expect::Field {
                    path: path.clone(),
                    message: Some(format!("missing field `{last}`")),
                    elements: false,
                },
            };
            all.push(Just((format!("{path} removed"), valid.with(&path, None), expect)).boxed());
        }
        if matches!(field.kind, Kind::Object | Kind::Map) {
            let V::Map(entries) = valid.clone().get(&path).clone() else {
                unreachable!()
            };
            let array = V::Array(entries.into_iter().map(|(_, v)| v).collect());
            let expect = Expect::Field {
                path: path.clone(),
                message: None,
                elements: false,
            };
            all.push(
                Just((
                    format!("{path} as an array"),
                    valid.with(&path, Some(array)),
                    expect,
                ))
                .boxed(),
            );
        }
    }
    // An unknown field, at any position, in every map.
    let maps = std::iter::once(String::new()).chain(
        fields
            .iter()
            .filter(|f| f.kind == Kind::Object)
            .map(|f| f.path.clone()),
    );
    let known: Vec<String> = fields.iter().map(|f| f.path.clone()).collect();
    for map in maps {
        let (body, known) = (valid.clone(), known.clone());
        let unknown = "[a-z][a-z0-9_]{0,24}".prop_filter("a known field", move |name| {
            !known
                .iter()
                .any(|path| path.rsplit('.').next() == Some(name))
        });
        all.push(
            (unknown, value(), any::<prop::sample::Index>())
                .prop_map(move |(name, value, at)| {
                    let mut body = body.clone();
                    let entries = if map.is_empty() {
                        body.entries()
                    } else {
                        body.get(&map).entries()
                    };
                    entries.insert(at.index(entries.len() + 1), (V::str(&name), value));
                    let path = if map.is_empty() {
                        name.clone()
                    } else {
                        format!("{map}.{name}")
                    };
                    let expect = Expect::Field {
                        path: path.clone(),
                        message: Some(format!("unknown field `{name}`")),
                        elements: false,
                    };
                    (format!("unknown field {path}"), body, expect)
                })
                .boxed(),
        );
    }
    // The whole request as a positional array.
    let V::Map(entries) = valid.clone() else {
        unreachable!()
    };
    let array = V::Array(entries.into_iter().map(|(_, v)| v).collect());
    all.push(Just(("positional array".to_owned(), array, Expect::NotAMap)).boxed());
    Union::new(all)
        .prop_map(|(what, body, expect)| (request.name, what, body, expect))
        .boxed()
}

// ---------------------------------------------------------------------------
// Arbitrary input for the never-panics property.

#[derive(Debug, Clone)]
enum Input {
    Bytes(Vec<u8>),
    Value(V),
    /// A valid request (by index), encoded, then damaged: (position, byte) edits.
    Damaged(usize, Vec<(prop::sample::Index, u8, u8)>),
}

impl Input {
    fn bytes(&self, ct: ContentType) -> Vec<u8> {
        match self {
            Input::Bytes(bytes) => bytes.clone(),
            Input::Value(value) => value.encode(ct),
            Input::Damaged(request, edits) => {
                let mut bytes = parsed(*request).0.encode(ct);
                for (at, op, byte) in edits {
                    let at = at.index(bytes.len() + 1);
                    match op % 3 {
                        0 if at < bytes.len() => bytes[at] = *byte,
                        1 => bytes.insert(at, *byte),
                        _ => bytes.truncate(at),
                    }
                }
                bytes
            }
        }
    }
}

fn input() -> impl Strategy<Value = Input> {
    // A valid request with one field replaced.
    let field = (
        0..REQUESTS.len(),
        prop_oneof![value(), deep()],
        any::<prop::sample::Index>(),
    )
        .prop_filter_map("no fields", |(request, value, at)| {
            let (valid, fields) = parsed(request);
            let field = fields.get(at.index(fields.len().max(1)))?;
            Some(Input::Value(valid.with(&field.path, Some(value))))
        });
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..256).prop_map(Input::Bytes),
        // Past the first-byte check: a map marker or `{`, then noise.
        (
            prop::sample::select(vec![0x80u8, 0x81, 0x83, 0xde, 0xdf, b'{']),
            prop::collection::vec(any::<u8>(), 0..256)
        )
            .prop_map(|(first, mut rest)| {
                rest.insert(0, first);
                Input::Bytes(rest)
            }),
        value().prop_map(Input::Value),
        deep().prop_map(Input::Value),
        field,
        (
            0..REQUESTS.len(),
            prop::collection::vec(any::<(prop::sample::Index, u8, u8)>(), 1..6)
        )
            .prop_map(|(request, edits)| Input::Damaged(request, edits)),
    ]
}

// ---------------------------------------------------------------------------
// The properties.

#[test]
fn the_valid_bodies_decode() {
    for request in REQUESTS {
        for ct in BOTH {
            let decoded = (request.decode)(ct, &request.valid().encode(ct));
            assert_eq!(decoded, Ok(()), "{} in {ct}", request.name);
        }
    }
}

/// Every request type of the catalog has an entry in [`REQUESTS`], and
/// nothing else does: an operation with a new request type fails here until
/// the type is fuzzed. Each entry's body holds every field of the type's
/// schema in the spec (nested objects' and a list's element's too), so
/// every field is mutated, and its `optional` is exactly the fields the
/// schema does not require.
#[test]
fn every_request_type_of_the_catalog_is_fuzzed() {
    let spec = Spec::v1();
    let catalog: BTreeSet<&str> = spec
        .operations
        .iter()
        .map(|op| op.request.as_str())
        .collect();
    let fuzzed: BTreeSet<&str> = REQUESTS.iter().map(|r| r.name).collect();
    assert_eq!(fuzzed.len(), REQUESTS.len(), "a request type listed twice");
    let missing: Vec<_> = catalog.difference(&fuzzed).collect();
    assert!(
        missing.is_empty(),
        "request types of the catalog not fuzzed: {missing:?}"
    );
    let extra: Vec<_> = fuzzed.difference(&catalog).collect();
    assert!(
        extra.is_empty(),
        "fuzzed, but no operation's request: {extra:?}"
    );
    for (i, request) in REQUESTS.iter().enumerate() {
        let contract = contract_fields(request.name);
        let body: BTreeSet<&str> = parsed(i)
            .1
            .iter()
            .filter(|f| !f.element())
            .map(|f| f.path.as_str())
            .collect();
        let fields: BTreeSet<&str> = contract.keys().map(String::as_str).collect();
        assert_eq!(body, fields, "{}: the valid body's fields", request.name);
        let optional: BTreeSet<&str> = request.optional.iter().copied().collect();
        let not_required: BTreeSet<&str> = contract
            .iter()
            .filter(|(_, required)| !**required)
            .map(|(path, _)| path.as_str())
            .collect();
        assert_eq!(optional, not_required, "{}: optional fields", request.name);
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn any_input_decodes_or_is_a_decode_error(input in input()) {
        for ct in BOTH {
            let bytes = input.bytes(ct);
            for request in REQUESTS {
                if let Err(err) = (request.decode)(ct, &bytes) {
                    prop_assert!(!err.message.is_empty(), "{} in {ct}: {err:?}", request.name);
                }
            }
        }
    }

    #[test]
    fn a_mutated_request_is_refused_naming_the_field(
        (name, what, body, expect) in Union::new(REQUESTS.iter().map(mutations))
    ) {
        let request = REQUESTS.iter().find(|r| r.name == name).unwrap();
        for ct in BOTH {
            let result = (request.decode)(ct, &body.encode(ct));
            let context = format!("{name}, {what}, in {ct}: expected {expect:?}, got {result:?}");
            match (&expect, result) {
                (Expect::Ok, Ok(())) => {}
                (Expect::Field { path: field, message, elements }, Err(err)) => {
                    // A UUID is also read from an array of 16 bytes, so
                    // an array's element may be named (`id[0]`); so may a
                    // list's wrong element (`items[0]`).
                    let named = err.field.as_deref().unwrap_or_default();
                    let inside = *elements && named.strip_prefix(field.as_str()).is_some_and(|rest| rest.starts_with('['));
                    // The structure is checked before the fields are read:
                    // a map keyed by other than names, or nesting too deep,
                    // is named where it is, inside the field.
                    let structural = err.message.contains("nested deeper")
                        || err.message.starts_with("map keys must be field names");
                    let within = named.strip_prefix(field.as_str()).is_some_and(|rest| rest.starts_with(['.', '[']));
                    prop_assert!(
                        named == field || (structural && within) || inside,
                        "{}", context
                    );
                    prop_assert!(!err.message.is_empty(), "{}", context);
                    if let Some(message) = message.as_ref().filter(|_| !structural) {
                        prop_assert_eq!(&err.message, message, "{}", context);
                    }
                }
                (Expect::NotAMap, Err(err)) => {
                    prop_assert_eq!(err.field, None, "{}", context);
                    prop_assert!(err.message.contains("must be a map"), "{}", context);
                }
                _ => prop_assert!(false, "{}", context),
            }
        }
    }
}

/// Found by fuzzing, to be fixed in the codec: MessagePack maps keyed by
/// field *indices* (`{0: "acme", 1: "ada@acme.example", 2: "pw"}`) decode as
/// if keyed by names, because serde's derived field visitor accepts integers.
/// Contract §2: maps are keyed by field names, never positional.
#[test]
fn msgpack_integer_keys_are_refused() {
    let body = V::Map(vec![
        (V::Uint(0), V::str("acme")),
        (V::Uint(1), V::str("ada@acme.example")),
        (V::Uint(2), V::str("velvet-orbit")),
    ]);
    let result = decode::<LoginRequest>(ContentType::MsgPack, &body.encode(ContentType::MsgPack));
    assert!(result.is_err(), "{result:?}");
}

/// Found by fuzzing, as [`msgpack_integer_keys_are_refused`] was for keys:
/// a MessagePack integer where an enum is expected (`{"user_id": ...,
/// "role": 1}`) decoded as the value of that index (`admin`), because
/// serde's derived variant visitor accepts integers. Contract §4: an enum
/// is one of its strings (`olympus_contracts::names_only!`).
#[test]
fn msgpack_integer_enum_values_are_refused() {
    let body = V::Map(vec![
        (
            V::str("user_id"),
            V::str("0193a5a0-7b7e-7c8e-9a1b-2c3d4e5f6a02"),
        ),
        (V::str("role"), V::Uint(1)),
    ]);
    let result = decode::<SetRoleRequest>(ContentType::MsgPack, &body.encode(ContentType::MsgPack));
    let err = result.unwrap_err();
    assert_eq!(err.field.as_deref(), Some("role"), "{err:?}");
}
