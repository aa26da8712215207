//! [`Error`]: what a handler returns when it cannot succeed.
//!
//! An error is a contract code (what the client sees), a message safe to
//! show, optional details, and, for `internal` and `unavailable`, the cause
//! (logged with its whole chain, never sent).

use olympus_contracts::codec::DecodeError;
use olympus_contracts::ErrorCode;
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

/// A contract error, with the internal cause when there is one.
pub struct Error {
    code: ErrorCode,
    message: Cow<'static, str>,
    details: Option<Map<String, Value>>,
    source: Option<anyhow::Error>,
}

/// Collects `validation_failed` messages, field by field.
#[derive(Debug, Default)]
pub struct Validation {
    fields: BTreeMap<String, Vec<String>>,
}

impl Validation {
    /// Records that `field` broke a rule.
    pub fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.fields
            .entry(field.into())
            .or_default()
            .push(message.into());
    }

    /// Records every message of a parse that failed.
    pub fn check<T>(&mut self, field: &str, parsed: Result<T, Vec<String>>) -> Option<T> {
        match parsed {
            Ok(value) => Some(value),
            Err(messages) => {
                for message in messages {
                    self.add(field, message);
                }
                None
            }
        }
    }

    /// `Ok` when nothing failed, else `validation_failed` listing every failure.
    pub fn finish(self) -> Result<(), Error> {
        if self.fields.is_empty() {
            return Ok(());
        }
        Err(self.into_error())
    }

    /// Records, on both fields, that a request gives exactly one of `first`
    /// and `second` (paths such as `items[0].variant_id`; the message names
    /// their last parts).
    pub fn add_one_of(&mut self, first: &str, second: &str) {
        let name = |field: &'_ str| field.rsplit('.').next().unwrap_or(field).to_owned();
        let message = format!("give exactly one of {} and {}", name(first), name(second));
        self.add(first, &message);
        self.add(second, message);
    }

    /// `validation_failed` on both `first` and `second`: exactly one of
    /// them must be given ([`Validation::add_one_of`]).
    pub fn one_of(first: &str, second: &str) -> Error {
        let mut v = Self::default();
        v.add_one_of(first, second);
        v.into_error()
    }

    /// `validation_failed` with `messages` on `field` alone.
    pub fn failed<M: Into<String>>(field: &str, messages: impl IntoIterator<Item = M>) -> Error {
        let mut v = Self::default();
        for message in messages {
            v.add(field, message);
        }
        v.into_error()
    }

    fn into_error(self) -> Error {
        let fields: Map<String, Value> = self
            .fields
            .into_iter()
            .map(|(field, messages)| (field, Value::from(messages)))
            .collect();
        Error::new(ErrorCode::ValidationFailed).with_detail("fields", Value::Object(fields))
    }
}

impl Error {
    /// An error with the code's default message.
    pub fn new(code: ErrorCode) -> Self {
        Self {
            code,
            message: Cow::Borrowed(code.default_message()),
            details: None,
            source: None,
        }
    }

    /// Replaces the message; it is sent to the client, so no secrets.
    pub fn with_message(mut self, message: impl Into<Cow<'static, str>>) -> Self {
        self.message = message.into();
        self
    }

    /// Adds one entry to `details`.
    pub fn with_detail(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.details
            .get_or_insert_with(Map::new)
            .insert(key.to_owned(), value.into());
        self
    }

    /// `internal`: the cause is logged, the client sees a generic message.
    pub fn internal(source: impl Into<anyhow::Error>) -> Self {
        let source = source.into();
        let code = if is_unavailable(&source) {
            ErrorCode::Unavailable
        } else {
            ErrorCode::Internal
        };
        Self {
            source: Some(source),
            ..Self::new(code)
        }
    }

    /// The same error again, for each of several callers one failure
    /// answers (a shared read): code, message and details alike, the cause
    /// by its text.
    pub fn duplicate(&self) -> Self {
        Self {
            code: self.code,
            message: self.message.clone(),
            details: self.details.clone(),
            source: self
                .source
                .as_ref()
                .map(|source| anyhow::anyhow!("{source:#}")),
        }
    }

    /// `bad_request` for a payload that did not decode, naming the field.
    pub fn bad_request(err: DecodeError) -> Self {
        let this = Self::new(ErrorCode::BadRequest).with_message(err.to_string());
        match err.field {
            Some(field) => this.with_detail("field", field),
            None => this,
        }
    }

    /// `unavailable` for work that cannot start within the worker's bounds
    /// (a full queue, an operation's share of the in-flight requests): the
    /// client should come back after `details.retry_after_secs`.
    pub fn overloaded() -> Self {
        Self::new(ErrorCode::Unavailable)
            .with_message("the worker is at capacity; retry later")
            .with_detail("retry_after_secs", 1)
    }

    /// `unavailable` with `details.outcome: "unknown"`: the request sent a
    /// commit and could not learn whether it took effect (the connection
    /// failed, or the request's database time ran out, while it was in
    /// flight); `cause` is logged. The contract tells the caller to retry
    /// only with the same `Idempotency-Key`.
    pub fn outcome_unknown(cause: impl Into<anyhow::Error>) -> Self {
        Self::new(ErrorCode::Unavailable)
            .with_message(
                "the database did not confirm the change, which may or may not have been made; \
                 retry only with the same Idempotency-Key",
            )
            .with_detail("outcome", "unknown")
            .with_source(cause)
    }

    /// `conflict` naming the field whose value is taken.
    pub fn conflict(field: &str) -> Self {
        Self::new(ErrorCode::Conflict)
            .with_message(format!("{field} is already taken"))
            .with_detail("field", field)
    }

    /// Keeps `source` as the cause (logged, never sent).
    pub fn with_source(mut self, source: impl Into<anyhow::Error>) -> Self {
        self.source = Some(source.into());
        self
    }

    /// Replaces the details.
    pub fn with_details(mut self, details: Map<String, Value>) -> Self {
        self.details = Some(details);
        self
    }

    /// `invalid_state`: not allowed from `state` (in `details.state`).
    pub fn invalid_state(state: &str, message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::InvalidState)
            .with_message(message)
            .with_detail("state", state)
    }

    /// `not_found`, saying what was not found.
    pub fn not_found(message: &'static str) -> Self {
        Self::new(ErrorCode::NotFound).with_message(message)
    }

    /// The contract code.
    pub fn code(&self) -> ErrorCode {
        self.code
    }

    /// The message sent to the client.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The details sent to the client.
    pub fn details(&self) -> Option<&Map<String, Value>> {
        self.details.as_ref()
    }

    /// The internal cause, for logs only.
    pub fn source(&self) -> Option<&anyhow::Error> {
        self.source.as_ref()
    }
}

/// Postgres (or the pool) being unreachable is `unavailable`: safe to retry.
/// So is a connection Postgres ended (a restart, a failover: SQLSTATE
/// classes 08, connection exception, and 57, operator intervention, as in
/// `57P01 admin_shutdown`): pooled connections are not pinged before use, so
/// the first request on each one after a restart learns it this way.
fn is_unavailable(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause.downcast_ref::<sqlx::Error>().is_some_and(|err| {
            matches!(err, sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed)
                || is_connection_lost(err)
        })
    })
}

/// Whether `err` says the connection to Postgres failed or Postgres ended
/// it: what was sent on it may or may not have been carried out.
pub(crate) fn is_connection_lost(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Io(_) | sqlx::Error::Tls(_) | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => db
            .code()
            .is_some_and(|code| code.starts_with("08") || code.starts_with("57")),
        _ => false,
    }
}

impl From<sqlx::Error> for Error {
    fn from(err: sqlx::Error) -> Self {
        // Text a client sent that Postgres cannot store (a NUL character)
        // is the client's mistake, wherever a handler let it through.
        if let sqlx::Error::Database(db) = &err {
            if db.code().as_deref() == Some(CHARACTER_NOT_IN_REPERTOIRE) {
                return Self::new(ErrorCode::BadRequest)
                    .with_message("text fields must not contain NUL characters");
            }
        }
        Self::internal(err)
    }
}

/// True when `err` is a unique violation of `constraint`.
pub fn is_unique_violation(err: &sqlx::Error, constraint: &str) -> bool {
    match err {
        sqlx::Error::Database(db) => {
            db.is_unique_violation() && db.constraint() == Some(constraint)
        }
        _ => false,
    }
}

/// SQLSTATE of text Postgres refuses, such as a NUL in UTF-8.
const CHARACTER_NOT_IN_REPERTOIRE: &str = "22021";

impl From<anyhow::Error> for Error {
    fn from(err: anyhow::Error) -> Self {
        Self::internal(err)
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = f.debug_struct("Error");
        s.field("code", &self.code).field("message", &self.message);
        if let Some(source) = &self.source {
            s.field("source", &format_args!("{source:#}"));
        }
        s.finish()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)?;
        if let Some(source) = &self.source {
            write!(f, " ({source:#})")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_lists_every_failure_per_field() {
        let mut v = Validation::default();
        v.add("slug", "too short");
        v.add("owner.email", "not an email");
        v.add("slug", "reserved");
        let err = v.finish().unwrap_err();
        assert_eq!(err.code(), ErrorCode::ValidationFailed);
        assert_eq!(
            Value::Object(err.details().unwrap().clone()),
            serde_json::json!({"fields": {"slug": ["too short", "reserved"], "owner.email": ["not an email"]}})
        );
    }

    #[test]
    fn a_pool_timeout_is_unavailable_even_under_context() {
        let err = anyhow::Error::from(sqlx::Error::PoolTimedOut).context("loading the user");
        assert_eq!(Error::internal(err).code(), ErrorCode::Unavailable);
        assert_eq!(
            Error::internal(anyhow::anyhow!("bug")).code(),
            ErrorCode::Internal
        );
    }
}
