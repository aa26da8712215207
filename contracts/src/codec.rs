//! The codec: MessagePack maps with field names, or JSON, chosen by
//! `Content-Type` (contract §1-2).
//!
//! Decoding is strict: the payload must be a map, unknown fields are
//! rejected, and every error names the field it is about (dotted path, e.g.
//! `owner.email`), so a client in any language learns what to fix. Objects
//! must be maps at every level (see [`map_only`]), never positional arrays.
//! MessagePack is written and read in "human readable" mode so that UUIDs
//! and timestamps travel as strings, exactly as in JSON.

use serde::de::DeserializeOwned;
use serde::Serialize;
use std::fmt;

/// Requests larger than this are rejected with `payload_too_large`.
pub const MAX_REQUEST_BYTES: usize = 256 * 1024;

/// The two encodings of the contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ContentType {
    #[default]
    MsgPack,
    Json,
}

impl ContentType {
    /// The header value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::MsgPack => "application/msgpack",
            Self::Json => "application/json",
        }
    }

    /// Reads a `Content-Type` header: absent means MessagePack; parameters
    /// such as `; charset=utf-8` are ignored; anything else is `None`.
    pub fn from_header(value: Option<&str>) -> Option<Self> {
        let Some(value) = value else {
            return Some(Self::MsgPack);
        };
        let essence = value.split(';').next().unwrap_or("").trim();
        if essence.eq_ignore_ascii_case("application/msgpack") {
            Some(Self::MsgPack)
        } else if essence.eq_ignore_ascii_case("application/json") {
            Some(Self::Json)
        } else {
            None
        }
    }

    /// Encodes a value. MessagePack is a map keyed by field names.
    pub fn encode<T: Serialize + ?Sized>(self, value: &T) -> Result<Vec<u8>, EncodeError> {
        match self {
            Self::Json => serde_json::to_vec(value).map_err(|e| EncodeError(e.to_string())),
            Self::MsgPack => {
                let mut buf = Vec::with_capacity(128);
                let mut ser = rmp_serde::Serializer::new(&mut buf)
                    .with_struct_map()
                    .with_human_readable();
                value
                    .serialize(&mut ser)
                    .map_err(|e| EncodeError(e.to_string()))?;
                Ok(buf)
            }
        }
    }

    /// Decodes a request. An empty payload is read as an empty map, so
    /// operations whose fields are all optional accept it.
    pub fn decode<T: DeserializeOwned>(self, bytes: &[u8]) -> Result<T, DecodeError> {
        const EMPTY_MSGPACK_MAP: &[u8] = &[0x80];
        const EMPTY_JSON_OBJECT: &[u8] = b"{}";
        let bytes = match (self, bytes.is_empty()) {
            (Self::MsgPack, true) => EMPTY_MSGPACK_MAP,
            (Self::Json, true) => EMPTY_JSON_OBJECT,
            (_, false) => bytes,
        };
        match self {
            Self::Json => decode_json(bytes),
            Self::MsgPack => decode_msgpack(bytes),
        }
    }
}

impl fmt::Display for ContentType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A value could not be encoded (a bug, never the client's fault).
#[derive(Debug)]
pub struct EncodeError(String);

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "could not encode the reply: {}", self.0)
    }
}

impl std::error::Error for EncodeError {}

/// Why a payload could not be decoded, and which field it was about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    /// Dotted path of the offending field, when there is one.
    pub field: Option<String>,
    /// What was wrong, in words a client developer can act on.
    pub message: String,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.field {
            Some(field) => write!(f, "{field}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for DecodeError {}

fn decode_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, DecodeError> {
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    if first != Some(&b'{') {
        return Err(not_a_map());
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de).map_err(path_error)?;
    de.end().map_err(|e| DecodeError {
        field: None,
        message: format!("trailing data after the object: {e}"),
    })?;
    Ok(value)
}

fn decode_msgpack<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, DecodeError> {
    // fixmap, map16, map32: positional arrays are not part of the contract.
    if !matches!(bytes.first(), Some(0x80..=0x8f | 0xde | 0xdf)) {
        // The usual slip of a manual `nats req`: JSON without its header.
        if bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{') {
            return Err(DecodeError {
                field: None,
                message: "the payload looks like JSON but was read as MessagePack: \
                          send the header Content-Type: application/json"
                    .into(),
            });
        }
        return Err(not_a_map());
    }
    check_field_names(bytes)?;
    let mut rest = bytes;
    let mut de = rmp_serde::Deserializer::new(&mut rest).with_human_readable();
    let value = serde_path_to_error::deserialize(&mut de).map_err(path_error)?;
    if !rest.is_empty() {
        return Err(DecodeError {
            field: None,
            message: format!("{} trailing bytes after the map", rest.len()),
        });
    }
    Ok(value)
}

/// `Deserialize` for an enum of unit variants from its wire name alone, a
/// string (contract §2). serde's derived impl would also take a variant's
/// index in MessagePack (`"role": 1` for admin) and a one-entry map in
/// either encoding (`{"owner": null}`). The enum keeps `#[derive(Serialize,
/// JsonSchema)]` with its `rename_all`, and has `parse(&str) ->
/// Option<Self>`; `names_only!(Role: "owner", "admin", "member")` lists
/// the names, which `tests::names_only_enums_take_their_names` checks
/// against `parse` and `as_str`.
#[macro_export]
macro_rules! names_only {
    ($ty:ident: $($name:literal),+ $(,)?) => {
        impl $ty {
            /// Every wire name, in the contract's order.
            pub const NAMES: &'static [&'static str] = &[$($name),+];
        }

        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                struct Name;
                impl serde::de::Visitor<'_> for Name {
                    type Value = $ty;
                    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                        let names: Vec<String> = $ty::NAMES.iter().map(|n| format!("`{n}`")).collect();
                        write!(f, "one of {}", names.join(", "))
                    }
                    fn visit_str<E: serde::de::Error>(self, value: &str) -> Result<$ty, E> {
                        $ty::parse(value).ok_or_else(|| E::unknown_variant(value, $ty::NAMES))
                    }
                }
                deserializer.deserialize_str(Name)
            }
        }
    };
}

/// How deep a request may nest maps and arrays.
pub const MAX_DEPTH: usize = 32;

/// Every MessagePack map must be keyed by field names (strings): serde's
/// derived structs would otherwise read integer keys as field positions.
/// Nesting is bounded by [`MAX_DEPTH`]. Bytes that are not well-formed are
/// left to the decoder, which names what is wrong.
fn check_field_names(bytes: &[u8]) -> Result<(), DecodeError> {
    let mut walk = Walk {
        bytes,
        path: Vec::new(),
    };
    match walk.value(0) {
        Some(Err(err)) => Err(err),
        _ => Ok(()),
    }
}

struct Walk<'a> {
    bytes: &'a [u8],
    /// Field names of the maps being walked, for the error's field.
    path: Vec<String>,
}

impl Walk<'_> {
    fn take(&mut self, n: usize) -> Option<&[u8]> {
        if self.bytes.len() < n {
            return None;
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Some(head)
    }

    fn length(&mut self, size: usize) -> Option<usize> {
        let raw = self.take(size)?;
        Some(raw.iter().fold(0usize, |n, &b| (n << 8) | usize::from(b)))
    }

    /// Skips one value; `None` when the bytes end or are malformed.
    fn value(&mut self, depth: usize) -> Option<Result<(), DecodeError>> {
        if depth > MAX_DEPTH {
            return Some(Err(DecodeError {
                field: self.field(),
                message: format!("nested deeper than {MAX_DEPTH} levels"),
            }));
        }
        let marker = *self.take(1)?.first()?;
        let skip = |walk: &mut Self, n: usize| walk.take(n).map(|_| Ok(()));
        match marker {
            0x00..=0x7f | 0xc0 | 0xc2 | 0xc3 | 0xe0..=0xff => Some(Ok(())),
            0x80..=0x8f => self.map(usize::from(marker & 0x0f), depth),
            0x90..=0x9f => self.array(usize::from(marker & 0x0f), depth),
            0xa0..=0xbf => skip(self, usize::from(marker & 0x1f)),
            0xc4 | 0xd9 => {
                let n = self.length(1)?;
                skip(self, n)
            }
            0xc5 | 0xda => {
                let n = self.length(2)?;
                skip(self, n)
            }
            0xc6 | 0xdb => {
                let n = self.length(4)?;
                skip(self, n)
            }
            0xc7 => {
                let n = self.length(1)?;
                skip(self, n + 1)
            }
            0xc8 => {
                let n = self.length(2)?;
                skip(self, n + 1)
            }
            0xc9 => {
                let n = self.length(4)?;
                skip(self, n + 1)
            }
            0xcc | 0xd0 => skip(self, 1),
            0xcd | 0xd1 => skip(self, 2),
            0xca | 0xce | 0xd2 => skip(self, 4),
            0xcb | 0xcf | 0xd3 => skip(self, 8),
            0xd4 => skip(self, 2),
            0xd5 => skip(self, 3),
            0xd6 => skip(self, 5),
            0xd7 => skip(self, 9),
            0xd8 => skip(self, 17),
            0xdc => {
                let n = self.length(2)?;
                self.array(n, depth)
            }
            0xdd => {
                let n = self.length(4)?;
                self.array(n, depth)
            }
            0xde => {
                let n = self.length(2)?;
                self.map(n, depth)
            }
            0xdf => {
                let n = self.length(4)?;
                self.map(n, depth)
            }
            // 0xc1 is never used.
            _ => None,
        }
    }

    fn array(&mut self, len: usize, depth: usize) -> Option<Result<(), DecodeError>> {
        for index in 0..len {
            self.path.push(format!("[{index}]"));
            let checked = self.value(depth + 1);
            self.path.pop();
            if let Err(err) = checked? {
                return Some(Err(err));
            }
        }
        Some(Ok(()))
    }

    fn map(&mut self, len: usize, depth: usize) -> Option<Result<(), DecodeError>> {
        for _ in 0..len {
            let marker = *self.bytes.first()?;
            let key_len = match marker {
                0xa0..=0xbf => {
                    self.take(1)?;
                    usize::from(marker & 0x1f)
                }
                0xd9 => {
                    self.take(1)?;
                    self.length(1)?
                }
                0xda => {
                    self.take(1)?;
                    self.length(2)?
                }
                0xdb => {
                    self.take(1)?;
                    self.length(4)?
                }
                _ => {
                    return Some(Err(DecodeError {
                        field: self.field(),
                        message: "map keys must be field names (strings), not positions or \
                                  other values"
                            .into(),
                    }))
                }
            };
            let key = String::from_utf8_lossy(self.take(key_len)?).into_owned();
            self.path.push(key);
            let checked = self.value(depth + 1);
            self.path.pop();
            if let Err(err) = checked? {
                return Some(Err(err));
            }
        }
        Some(Ok(()))
    }

    /// The path of the field being walked, as serde names it
    /// (`items[0].product_id`; positions after the last name are left
    /// out: a list nested too deep is named by its field), if any.
    fn field(&self) -> Option<String> {
        let named = self
            .path
            .iter()
            .rposition(|s| !s.starts_with('['))
            .map_or(0, |i| i + 1);
        let mut field = String::new();
        for segment in &self.path[..named] {
            if !field.is_empty() && !segment.starts_with('[') {
                field.push('.');
            }
            field.push_str(segment);
        }
        (!field.is_empty()).then_some(field)
    }
}

/// For fields where absent and nil differ (`#[serde(default,
/// deserialize_with = "present")]` on an `Option<Option<T>>`): absent stays
/// `None`, nil becomes `Some(None)`, a value `Some(Some(v))`.
pub fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    <Option<T> as serde::Deserialize>::deserialize(deserializer).map(Some)
}

/// [`map_only`] for an optional nested object (`Option<T>`): nil or
/// absent is `None`.
pub fn option_map_only<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    <Option<MapOnly<T>> as serde::Deserialize>::deserialize(deserializer).map(|o| o.map(|m| m.0))
}

/// [`present`] for an optional nested object of an update (`Option<Option<T>>`):
/// absent stays `None`, nil becomes `Some(None)`, a map `Some(Some(v))`.
pub fn present_map_only<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    <Option<MapOnly<T>> as serde::Deserialize>::deserialize(deserializer)
        .map(|o| Some(o.map(|m| m.0)))
}

/// [`map_only`] for each object of a list (`Vec<T>`).
pub fn seq_of_maps<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    <Vec<MapOnly<T>> as serde::Deserialize>::deserialize(deserializer)
        .map(|v| v.into_iter().map(|m| m.0).collect())
}

/// A `T` that deserializes only from a map (see [`map_only`]).
struct MapOnly<T>(T);

impl<'de, T: serde::Deserialize<'de>> serde::Deserialize<'de> for MapOnly<T> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        map_only(deserializer).map(MapOnly)
    }
}

/// For nested objects (`#[serde(deserialize_with = "map_only")]`): accepts
/// only a map, where serde's derived structs would also take a positional
/// array. The payload's top level is checked by [`ContentType::decode`].
pub fn map_only<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    struct MapOnly<T>(std::marker::PhantomData<T>);

    impl<'de, T: serde::Deserialize<'de>> serde::de::Visitor<'de> for MapOnly<T> {
        type Value = T;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a map with field names")
        }

        fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
            T::deserialize(serde::de::value::MapAccessDeserializer::new(map))
        }
    }

    deserializer.deserialize_map(MapOnly(std::marker::PhantomData))
}

fn not_a_map() -> DecodeError {
    DecodeError {
        field: None,
        message: "the payload must be a map (MessagePack) or an object (JSON)".into(),
    }
}

/// Turns serde's error into a field path and a message. serde reports
/// unknown and missing fields at the enclosing map, naming the field in
/// backticks; the path is completed with that name.
fn path_error<E: fmt::Display>(err: serde_path_to_error::Error<E>) -> DecodeError {
    let path = err.path().to_string();
    let parent = (path != ".").then_some(path);
    let message = err.inner().to_string();
    let named = ["unknown field", "missing field"].iter().find_map(|kind| {
        let name = message
            .strip_prefix(kind)?
            .strip_prefix(" `")?
            .split('`')
            .next()?;
        Some((*kind, name.to_owned()))
    });
    match named {
        // The rest of serde's text ("expected one of ...", a JSON position)
        // differs between encodings; the field name says it all.
        Some((kind, name)) => DecodeError {
            message: format!("{kind} `{name}`"),
            field: Some(match parent {
                // An unknown field's path ends with its key; a missing
                // field's stops at the enclosing map, whose own name may be
                // the field's (`amount.amount`).
                Some(parent)
                    if kind == "unknown field"
                        && (parent == name || parent.ends_with(&format!(".{name}"))) =>
                {
                    parent
                }
                Some(parent) => format!("{parent}.{name}"),
                None => name,
            }),
        },
        None => DecodeError {
            field: parent,
            message,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize, Serialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Inner {
        email: String,
    }

    #[derive(Debug, Deserialize, Serialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Outer {
        slug: String,
        #[serde(deserialize_with = "map_only")]
        owner: Inner,
        #[serde(default)]
        note: Option<String>,
    }

    fn msgpack(value: &serde_json::Value) -> Vec<u8> {
        ContentType::MsgPack.encode(value).unwrap()
    }

    #[test]
    fn content_type_header() {
        assert_eq!(ContentType::from_header(None), Some(ContentType::MsgPack));
        assert_eq!(
            ContentType::from_header(Some("application/json; charset=utf-8")),
            Some(ContentType::Json)
        );
        assert_eq!(
            ContentType::from_header(Some("Application/MsgPack")),
            Some(ContentType::MsgPack)
        );
        assert_eq!(ContentType::from_header(Some("text/plain")), None);
        // Exactly the contract's two types.
        assert_eq!(
            ContentType::from_header(Some("application/x-msgpack")),
            None
        );
        assert_eq!(ContentType::from_header(Some("")), None);
    }

    #[test]
    fn msgpack_maps_must_be_keyed_by_field_names_and_bounded_in_depth() {
        // {"slug": "x", "owner": {0: "e"}}
        let positional = b"\x82\xa4slug\xa1x\xa5owner\x81\x00\xa1e";
        let err = ContentType::MsgPack
            .decode::<Outer>(positional)
            .unwrap_err();
        assert_eq!(err.field.as_deref(), Some("owner"));
        assert!(err.message.contains("field names"), "{err}");
        // {0: "x", 1: {"email": "e"}}
        let err = ContentType::MsgPack
            .decode::<Outer>(b"\x82\x00\xa1x\x01\x81\xa5email\xa1e")
            .unwrap_err();
        assert_eq!(err.field, None);
        let mut deep = b"\x81\xa4note".to_vec();
        deep.extend(std::iter::repeat_n(0x91u8, 40));
        deep.push(0xc0);
        let err = ContentType::MsgPack.decode::<Outer>(&deep).unwrap_err();
        assert!(err.message.contains("nested deeper"), "{err}");
        assert_eq!(err.field.as_deref(), Some("note"));
    }

    #[test]
    fn msgpack_structs_are_maps_with_field_names() {
        let value = Inner {
            email: "a@b.c".into(),
        };
        let bytes = ContentType::MsgPack.encode(&value).unwrap();
        // fixmap(1), fixstr(5) "email", fixstr(5) "a@b.c"
        assert_eq!(bytes[0], 0x81);
        assert_eq!(&bytes[1..7], b"\xa5email");
        assert_eq!(&bytes[7..], b"\xa5a@b.c");
    }

    #[test]
    fn uuids_and_times_are_strings_in_msgpack() {
        let id = uuid::Uuid::nil();
        let bytes = ContentType::MsgPack.encode(&id).unwrap();
        assert_eq!(bytes[0], 0xd9, "str8 marker, not bin");
        let at = chrono::DateTime::<chrono::Utc>::from_timestamp(0, 0).unwrap();
        let json = ContentType::Json.encode(&at).unwrap();
        assert_eq!(json, b"\"1970-01-01T00:00:00Z\"");
    }

    #[test]
    fn unknown_nested_field_is_named_with_its_path() {
        let body = serde_json::json!({"slug": "x", "owner": {"email": "e", "admin": true}});
        for ct in [ContentType::Json, ContentType::MsgPack] {
            let bytes = match ct {
                ContentType::Json => serde_json::to_vec(&body).unwrap(),
                ContentType::MsgPack => msgpack(&body),
            };
            let err = ct.decode::<Outer>(&bytes).unwrap_err();
            assert_eq!(err.field.as_deref(), Some("owner.admin"), "{ct}");
            assert_eq!(err.message, "unknown field `admin`");
        }
    }

    #[test]
    fn missing_field_is_named() {
        let body = serde_json::json!({"owner": {"email": "e"}});
        let err = ContentType::MsgPack
            .decode::<Outer>(&msgpack(&body))
            .unwrap_err();
        assert_eq!(err.field.as_deref(), Some("slug"));
        let body = serde_json::json!({"slug": "s", "owner": {}});
        let err = ContentType::Json
            .decode::<Outer>(&serde_json::to_vec(&body).unwrap())
            .unwrap_err();
        assert_eq!(err.field.as_deref(), Some("owner.email"));
    }

    #[test]
    fn wrong_type_is_named() {
        let body = serde_json::json!({"slug": 7, "owner": {"email": "e"}});
        let err = ContentType::MsgPack
            .decode::<Outer>(&msgpack(&body))
            .unwrap_err();
        assert_eq!(err.field.as_deref(), Some("slug"));
        assert!(err.message.starts_with("invalid type"), "{}", err.message);
    }

    #[test]
    fn nil_and_absent_optionals_are_both_accepted() {
        let with_nil = serde_json::json!({"slug": "s", "owner": {"email": "e"}, "note": null});
        let without = serde_json::json!({"slug": "s", "owner": {"email": "e"}});
        let a: Outer = ContentType::MsgPack.decode(&msgpack(&with_nil)).unwrap();
        let b: Outer = ContentType::MsgPack.decode(&msgpack(&without)).unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn garbage_arrays_and_trailing_bytes_are_rejected() {
        for bytes in [&b"\xc1\xff\x00"[..], b"\x92\xa1s\xa1t", b"not json"] {
            assert!(ContentType::MsgPack.decode::<Outer>(bytes).is_err());
            assert!(ContentType::Json.decode::<Outer>(bytes).is_err());
        }
        let mut bytes = msgpack(&serde_json::json!({"slug": "s", "owner": {"email": "e"}}));
        bytes.push(0xc0);
        let err = ContentType::MsgPack.decode::<Outer>(&bytes).unwrap_err();
        assert!(err.message.contains("trailing"));
        let err = ContentType::Json
            .decode::<Outer>(br#"{"slug":"s","owner":{"email":"e"}} x"#)
            .unwrap_err();
        assert!(err.message.contains("trailing"));
    }

    #[test]
    fn nested_objects_must_be_maps_too() {
        let body = serde_json::json!({"slug": "s", "owner": ["e@x.io"]});
        for ct in [ContentType::Json, ContentType::MsgPack] {
            let bytes = match ct {
                ContentType::Json => serde_json::to_vec(&body).unwrap(),
                ContentType::MsgPack => msgpack(&body),
            };
            let err = ct.decode::<Outer>(&bytes).unwrap_err();
            assert_eq!(err.field.as_deref(), Some("owner"), "{ct}: {err}");
            assert!(err.message.contains("a map"), "{ct}: {err}");
        }
    }

    #[test]
    fn json_sent_without_its_content_type_gets_a_hint() {
        let err = ContentType::MsgPack
            .decode::<Outer>(br#" {"slug": "acme"}"#)
            .unwrap_err();
        assert!(
            err.message.contains("Content-Type: application/json"),
            "{err}"
        );
    }

    #[test]
    fn truncated_msgpack_is_an_error_not_a_panic() {
        let bytes = msgpack(&serde_json::json!({"slug": "s", "owner": {"email": "e"}}));
        for cut in 0..bytes.len() {
            let _ = ContentType::MsgPack.decode::<Outer>(&bytes[..cut]);
        }
    }

    #[test]
    fn empty_payload_reads_as_an_empty_map() {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct AllOptional {
            #[serde(default)]
            #[allow(dead_code)]
            id: Option<uuid::Uuid>,
        }
        assert!(ContentType::MsgPack.decode::<AllOptional>(b"").is_ok());
        assert!(ContentType::Json.decode::<AllOptional>(b"").is_ok());
        let err = ContentType::Json.decode::<Inner>(b"").unwrap_err();
        assert_eq!(err.field.as_deref(), Some("email"));
    }

    #[test]
    fn names_only_enums_take_their_names() {
        use crate::commerce::{
            OrderStatus, PaymentStatus, ProductStatus, PromotionKind, PromotionStatus,
        };
        use crate::shapes::{Role, TenantStatus};
        macro_rules! check {
            ($($ty:ty),*) => {$(
                for name in <$ty>::NAMES {
                    let parsed = <$ty>::parse(name).unwrap();
                    assert_eq!(parsed.as_str(), *name);
                    assert_eq!(serde_json::to_value(parsed).unwrap(), *name);
                    let json: $ty = ContentType::Json.decode(format!("{name:?}").as_bytes()).unwrap_or_else(|_| {
                        serde_json::from_str(&format!("{name:?}")).unwrap()
                    });
                    assert_eq!(json, parsed);
                }
            )*};
        }
        check!(
            Role,
            TenantStatus,
            ProductStatus,
            OrderStatus,
            PaymentStatus,
            PromotionKind,
            PromotionStatus
        );

        #[derive(Debug, Deserialize)]
        #[serde(deny_unknown_fields)]
        struct WithRole {
            #[allow(dead_code)]
            role: Role,
        }
        // Only a name: not MessagePack's variant index, not a one-entry map.
        let index =
            ContentType::MsgPack.decode::<WithRole>(&msgpack(&serde_json::json!({"role": 1})));
        assert_eq!(index.unwrap_err().field.as_deref(), Some("role"));
        for body in [r#"{"role": {"owner": null}}"#, r#"{"role": "boss"}"#] {
            let err = ContentType::Json
                .decode::<WithRole>(body.as_bytes())
                .unwrap_err();
            assert_eq!(err.field.as_deref(), Some("role"), "{body}");
            assert!(
                err.message.contains("`owner`, `admin`, `member`"),
                "{body}: {}",
                err.message
            );
        }
    }
}
