//! Error codes, their statuses, and the error reply body (contract §3).

use serde::{Deserialize, Serialize};
use std::fmt;

/// Every error code of the contract. The wire form is the snake_case name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    BadRequest,
    Unauthenticated,
    InvalidCredentials,
    InvalidToken,
    Forbidden,
    NotFound,
    Conflict,
    InvalidState,
    InsufficientStock,
    IdempotencyKeyInUse,
    PayloadTooLarge,
    UnsupportedMediaType,
    IdempotencyKeyReused,
    ValidationFailed,
    RateLimited,
    Internal,
    Unavailable,
}

impl ErrorCode {
    /// Every code, in the contract's order.
    pub const ALL: [ErrorCode; 17] = [
        Self::BadRequest,
        Self::Unauthenticated,
        Self::InvalidCredentials,
        Self::InvalidToken,
        Self::Forbidden,
        Self::NotFound,
        Self::Conflict,
        Self::InvalidState,
        Self::InsufficientStock,
        Self::IdempotencyKeyInUse,
        Self::PayloadTooLarge,
        Self::UnsupportedMediaType,
        Self::IdempotencyKeyReused,
        Self::ValidationFailed,
        Self::RateLimited,
        Self::Internal,
        Self::Unavailable,
    ];

    /// The numeric status sent in `Nats-Service-Error-Code`.
    pub fn status(self) -> u16 {
        match self {
            Self::BadRequest => 400,
            Self::Unauthenticated | Self::InvalidCredentials | Self::InvalidToken => 401,
            Self::Forbidden => 403,
            Self::NotFound => 404,
            Self::Conflict
            | Self::InvalidState
            | Self::InsufficientStock
            | Self::IdempotencyKeyInUse => 409,
            Self::PayloadTooLarge => 413,
            Self::UnsupportedMediaType => 415,
            Self::IdempotencyKeyReused | Self::ValidationFailed => 422,
            Self::RateLimited => 429,
            Self::Internal => 500,
            Self::Unavailable => 503,
        }
    }

    /// The wire name, e.g. `bad_request`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BadRequest => "bad_request",
            Self::Unauthenticated => "unauthenticated",
            Self::InvalidCredentials => "invalid_credentials",
            Self::InvalidToken => "invalid_token",
            Self::Forbidden => "forbidden",
            Self::NotFound => "not_found",
            Self::Conflict => "conflict",
            Self::InvalidState => "invalid_state",
            Self::InsufficientStock => "insufficient_stock",
            Self::IdempotencyKeyInUse => "idempotency_key_in_use",
            Self::PayloadTooLarge => "payload_too_large",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::IdempotencyKeyReused => "idempotency_key_reused",
            Self::ValidationFailed => "validation_failed",
            Self::RateLimited => "rate_limited",
            Self::Internal => "internal",
            Self::Unavailable => "unavailable",
        }
    }

    /// The short message used when a handler gives none; also the text of
    /// `Nats-Service-Error` for codes whose message could vary.
    pub fn default_message(self) -> &'static str {
        match self {
            Self::BadRequest => "the request could not be decoded",
            Self::Unauthenticated => "a valid access token is required",
            Self::InvalidCredentials => "invalid credentials",
            Self::InvalidToken => "the token is invalid, expired or already used",
            Self::Forbidden => "not allowed",
            Self::NotFound => "not found",
            Self::Conflict => "the value is already taken",
            Self::InvalidState => "not allowed in the current state",
            Self::InsufficientStock => "insufficient stock",
            Self::IdempotencyKeyInUse => "a request with this idempotency key is in progress",
            Self::PayloadTooLarge => "the request is larger than 256 KiB",
            Self::UnsupportedMediaType => {
                "unsupported content type: use application/msgpack or application/json"
            }
            Self::IdempotencyKeyReused => "the idempotency key was used for a different request",
            Self::ValidationFailed => "the request is invalid",
            Self::RateLimited => "too many requests",
            Self::Internal => "internal error",
            Self::Unavailable => "temporarily unavailable, retry later",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The body of every error reply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ErrorBody {
    pub code: ErrorCode,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<serde_json::Map<String, serde_json::Value>>,
    pub correlation_id: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_names_match_serde_names() {
        for code in ErrorCode::ALL {
            let json = serde_json::to_value(code).unwrap_or_default();
            assert_eq!(json, serde_json::Value::from(code.as_str()));
        }
    }

    #[test]
    fn statuses_follow_the_contract_table() {
        let table: Vec<(&str, u16)> = ErrorCode::ALL
            .iter()
            .map(|c| (c.as_str(), c.status()))
            .collect();
        assert_eq!(
            table,
            vec![
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
            ]
        );
    }
}
