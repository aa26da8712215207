//! [`Call`]: a decoded request and what came with it.

use olympus_contracts::operation::Operation;
use olympus_contracts::{ContentType, ErrorCode};

use crate::error::Error;
use crate::tokens::Claims;

/// What a handler receives: the decoded request and its metadata.
#[derive(Debug)]
pub struct Call<T> {
    pub body: T,
    pub meta: Meta,
}

/// Everything about a request except its body.
#[derive(Debug, Clone)]
pub struct Meta {
    pub operation: Operation,
    /// From `X-Correlation-Id`, or a fresh UUIDv7.
    pub correlation_id: String,
    pub content_type: ContentType,
    /// `X-Client-Ip`, as the gateway saw it: only a valid IPv4 or IPv6
    /// address, normalized (see [`crate::bounds::client_ip`]).
    pub client_ip: Option<String>,
    /// `User-Agent` of the end user, at most 512 bytes, no control characters.
    pub user_agent: Option<String>,
    /// A valid W3C `traceparent`, carried into events.
    pub traceparent: Option<String>,
    /// Verified claims; always present on bearer operations.
    pub claims: Option<Claims>,
}

impl Meta {
    /// The verified claims of a bearer operation.
    pub fn claims(&self) -> Result<&Claims, Error> {
        self.claims
            .as_ref()
            .ok_or_else(|| Error::new(ErrorCode::Unauthenticated))
    }
}
