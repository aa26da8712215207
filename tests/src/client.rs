//! Requests as the gateway sends them; replies as it reads them.
//!
//! Bodies are `serde_json::Value`s, encoded to JSON or to MessagePack maps,
//! and replies are decoded the same way, so assertions are about field
//! names and values on the wire.

use async_nats::HeaderMap;
use bytes::Bytes;
use serde_json::Value;

use crate::app::TestApp;

/// The two encodings of the contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Json,
    MsgPack,
}

impl Encoding {
    /// Both, for tests that must hold in each.
    pub const BOTH: [Encoding; 2] = [Encoding::MsgPack, Encoding::Json];

    /// The `Content-Type` value.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Json => "application/json",
            Self::MsgPack => "application/msgpack",
        }
    }

    /// Encodes a JSON value; objects become MessagePack maps.
    pub fn encode(self, value: &Value) -> Vec<u8> {
        match self {
            Self::Json => serde_json::to_vec(value).expect("json"),
            Self::MsgPack => rmp_serde::to_vec_named(value).expect("msgpack"),
        }
    }

    /// Decodes a reply into a JSON value.
    pub fn decode(self, bytes: &[u8]) -> Value {
        match self {
            Self::Json => serde_json::from_slice(bytes)
                .unwrap_or_else(|e| panic!("reply is not JSON ({e}): {bytes:?}")),
            Self::MsgPack => rmp_serde::from_slice(bytes)
                .unwrap_or_else(|e| panic!("reply is not MessagePack ({e}): {bytes:?}")),
        }
    }
}

/// A reply as received.
#[derive(Debug, Clone)]
pub struct Reply {
    pub headers: HeaderMap,
    pub payload: Bytes,
}

impl Reply {
    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.as_str())
    }

    /// `Nats-Service-Error-Code`, or 200 when absent.
    pub fn status(&self) -> u16 {
        self.header("Nats-Service-Error-Code")
            .map_or(200, |v| v.parse().expect("numeric status"))
    }

    /// The encoding the reply says it is in.
    pub fn encoding(&self) -> Encoding {
        match self.header("Content-Type") {
            Some("application/json") => Encoding::Json,
            Some("application/msgpack") => Encoding::MsgPack,
            other => panic!("reply has Content-Type {other:?}"),
        }
    }

    /// The decoded body.
    pub fn body(&self) -> Value {
        self.encoding().decode(&self.payload)
    }

    /// Asserts success and returns the body.
    #[track_caller]
    pub fn ok(&self) -> Value {
        let body = self.body();
        assert_eq!(self.status(), 200, "expected success, got {body}");
        body
    }

    /// Asserts the error reply (status header, message header, body) and
    /// returns the body.
    #[track_caller]
    pub fn err(&self, status: u16, code: &str) -> Value {
        let body = self.body();
        assert_eq!(self.status(), status, "status of {body}");
        assert_eq!(body["code"], code, "code of {body}");
        // The message, its first 200 characters when longer.
        let message: Option<String> = body["message"]
            .as_str()
            .map(|m| m.chars().take(200).collect());
        assert_eq!(
            self.header("Nats-Service-Error"),
            message.as_deref(),
            "Nats-Service-Error carries the message"
        );
        assert_eq!(
            body["correlation_id"].as_str(),
            self.header("X-Correlation-Id"),
            "the body's correlation id is the header's"
        );
        body
    }
}

/// A tenant and its owner, as signup returned them.
#[derive(Debug, Clone)]
pub struct Signup {
    pub slug: String,
    pub email: String,
    pub password: String,
    pub tenant_id: String,
    pub user_id: String,
    pub access_token: String,
    pub refresh_token: String,
    pub reply: Value,
}

/// A member signed in: who they are and their tokens.
#[derive(Debug, Clone)]
pub struct Member {
    pub user_id: String,
    pub email: String,
    pub access_token: String,
    pub refresh_token: String,
}

impl Member {
    fn from_session(reply: &Value) -> Self {
        let text = |v: &Value| v.as_str().expect("string").to_owned();
        Self {
            user_id: text(&reply["user"]["id"]),
            email: text(&reply["user"]["email"]),
            access_token: text(&reply["tokens"]["access_token"]),
            refresh_token: text(&reply["tokens"]["refresh_token"]),
        }
    }
}

/// The headers of a request in `encoding`: `Content-Type`, then
/// `Authorization: Bearer` and `Idempotency-Key` if given.
pub fn request_headers(encoding: Encoding, token: Option<&str>, key: Option<&str>) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert("Content-Type", encoding.content_type());
    if let Some(token) = token {
        headers.insert("Authorization", format!("Bearer {token}"));
    }
    if let Some(key) = key {
        headers.insert("Idempotency-Key", key);
    }
    headers
}

/// A password that passes the policy.
pub const GOOD_PASSWORD: &str = "velvet-orbit-cactus-harmonica";

impl TestApp {
    /// `{prefix}.{op}`, e.g. `op` = `auth.v1.login`.
    pub fn subject(&self, op: &str) -> String {
        format!("{}.{op}", self.prefix)
    }

    /// Sends raw bytes with raw headers.
    pub async fn raw(&self, op: &str, headers: HeaderMap, payload: impl Into<Bytes>) -> Reply {
        let message = tokio::time::timeout(
            std::time::Duration::from_secs(20),
            self.nats
                .request_with_headers(self.subject(op), headers, payload.into()),
        )
        .await
        .unwrap_or_else(|_| panic!("no reply to {op} within 20 s"))
        .unwrap_or_else(|e| panic!("request to {op} failed: {e}"));
        Reply {
            headers: message.headers.unwrap_or_default(),
            payload: message.payload,
        }
    }

    /// Like [`TestApp::raw`], but `None` when no reply comes within
    /// `timeout` or nobody answers (a killed process).
    pub async fn try_raw(
        &self,
        op: &str,
        headers: HeaderMap,
        payload: impl Into<Bytes>,
        timeout: std::time::Duration,
    ) -> Option<Reply> {
        let request = self
            .nats
            .request_with_headers(self.subject(op), headers, payload.into());
        match tokio::time::timeout(timeout, request).await {
            Ok(Ok(message)) => Some(Reply {
                headers: message.headers.unwrap_or_default(),
                payload: message.payload,
            }),
            _ => None,
        }
    }

    /// Sends `body` encoded as `encoding`, with a bearer token if given.
    pub async fn call(
        &self,
        encoding: Encoding,
        op: &str,
        token: Option<&str>,
        body: Value,
    ) -> Reply {
        self.call_keyed(encoding, op, token, None, body).await
    }

    /// [`TestApp::call`] with an `Idempotency-Key` if given.
    pub async fn call_keyed(
        &self,
        encoding: Encoding,
        op: &str,
        token: Option<&str>,
        key: Option<&str>,
        body: Value,
    ) -> Reply {
        let headers = request_headers(encoding, token, key);
        self.raw(op, headers, encoding.encode(&body)).await
    }

    /// Waits until `token` is refused (`unauthenticated` from `auth.me`),
    /// as the contract wants of a revoked session's tokens within a second;
    /// panics if it still works after that.
    pub async fn assert_refused_within_a_second(&self, token: &str) {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(1);
        while self.me(token).await.status() != 401 {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the revoked session's token still works after a second"
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    /// A new member of `owner`'s tenant with `role` (`member`, `admin` or
    /// `owner`): registered, then given the role by the owner.
    pub async fn join(&self, owner: &Signup, email: &str, role: &str) -> Member {
        let reply = self.register(&owner.slug, email, GOOD_PASSWORD).await.ok();
        let member = Member::from_session(&reply);
        if role != "member" {
            self.set_member_role(&owner.access_token, &member.user_id, role)
                .await
                .ok();
        }
        member
    }

    /// A platform administrator, made as `olympus admin bootstrap` makes
    /// one, and signed in to the tenant `platform`.
    pub async fn platform_admin(&self, email: &str) -> Member {
        olympus::bootstrap::run(
            &self.db,
            &self.subjects,
            email,
            &olympus_contracts::Secret::new(GOOD_PASSWORD),
            self.options.argon2_params,
        )
        .await
        .expect("bootstrap");
        Member::from_session(&self.login("platform", email, GOOD_PASSWORD).await.ok())
    }

    /// Creates a tenant with a fresh slug and returns what signup replied.
    pub async fn signup(&self, encoding: Encoding) -> Signup {
        let slug = format!("acme-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
        let email = format!("owner@{slug}.example.com");
        let reply = self
            .create_tenant(&slug, "Acme Corporation", &email, GOOD_PASSWORD)
            .with("owner.display_name", "Ada Owner")
            .encoded(encoding)
            .await
            .ok();
        let text = |v: &Value| v.as_str().expect("string").to_owned();
        Signup {
            tenant_id: text(&reply["tenant"]["id"]),
            user_id: text(&reply["owner"]["id"]),
            access_token: text(&reply["tokens"]["access_token"]),
            refresh_token: text(&reply["tokens"]["refresh_token"]),
            slug,
            email,
            password: GOOD_PASSWORD.to_owned(),
            reply,
        }
    }
}
