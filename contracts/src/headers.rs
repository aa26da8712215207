//! Header names of requests, replies and events (contract §1 and §7).

/// `Bearer <access token>` on operations that need one.
pub const AUTHORIZATION: &str = "Authorization";
/// `application/msgpack` (default) or `application/json`.
pub const CONTENT_TYPE: &str = "Content-Type";
/// Correlation id, echoed on replies and carried into logs and events.
pub const CORRELATION_ID: &str = "X-Correlation-Id";
/// Idempotency key on operations marked I.
pub const IDEMPOTENCY_KEY: &str = "Idempotency-Key";
/// The end user's address as the gateway saw it.
pub const CLIENT_IP: &str = "X-Client-Ip";
/// The end user's agent.
pub const USER_AGENT: &str = "User-Agent";
/// W3C trace context.
pub const TRACEPARENT: &str = "traceparent";
/// Numeric status of an error reply (NATS micro).
pub const SERVICE_ERROR_CODE: &str = "Nats-Service-Error-Code";
/// Short message of an error reply (NATS micro).
pub const SERVICE_ERROR: &str = "Nats-Service-Error";
/// JetStream de-duplication id; the event id.
pub const NATS_MSG_ID: &str = "Nats-Msg-Id";

/// Requests whose headers together (names, values and separators) exceed
/// this many bytes get `bad_request` (contract §1, bounds).
pub const MAX_HEADER_BYTES: usize = 16 * 1024;
/// `User-Agent` is recorded up to this many bytes, cut at a character.
pub const MAX_USER_AGENT_BYTES: usize = 512;
/// The reply subject prefix workers answer by default; a deployment whose
/// clients use their own inbox prefixes configures the list.
pub const DEFAULT_REPLY_PREFIX: &str = "_INBOX.";
