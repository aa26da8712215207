//! Subject and stream names, all derived from the prefix (contract §1, §7).

use uuid::Uuid;

use crate::operation::Service;

/// Subject names for one prefix (`olympus` by default).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subjects {
    prefix: String,
}

/// The prefix is not one NATS token of `[A-Za-z0-9_-]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidPrefix(pub String);

impl std::fmt::Display for InvalidPrefix {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "invalid subject prefix {:?}: use 1-64 characters of [A-Za-z0-9_-]",
            self.0
        )
    }
}

impl std::error::Error for InvalidPrefix {}

impl Subjects {
    /// The default prefix.
    pub const DEFAULT_PREFIX: &'static str = "olympus";

    /// Subjects under `prefix`, which must be a single token of
    /// `[A-Za-z0-9_-]` so that stream names can be derived from it.
    pub fn new(prefix: impl Into<String>) -> Result<Self, InvalidPrefix> {
        let prefix = prefix.into();
        let valid = (1..=64).contains(&prefix.len())
            && prefix
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if valid {
            Ok(Self { prefix })
        } else {
            Err(InvalidPrefix(prefix))
        }
    }

    /// The prefix itself.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// `{prefix}.{service}.v1`, the group of a service's endpoints.
    pub fn service_group(&self, service: Service) -> String {
        format!("{}.{}.v1", self.prefix, service.as_str())
    }

    /// `{prefix}.{service}.v1.{operation}`.
    pub fn endpoint(&self, service: Service, operation: &str) -> String {
        format!("{}.{operation}", self.service_group(service))
    }

    /// `{prefix}.events.{tenant_id}.{type}`.
    pub fn event(&self, tenant_id: Uuid, event_type: &str) -> String {
        format!("{}.events.{tenant_id}.{event_type}", self.prefix)
    }

    /// `{prefix}.events.>`, everything in the events stream.
    pub fn events_wildcard(&self) -> String {
        format!("{}.events.>", self.prefix)
    }

    /// `{prefix}.mail.{tenant_id}.{template}`.
    pub fn mail(&self, tenant_id: Uuid, template: &str) -> String {
        format!("{}.mail.{tenant_id}.{template}", self.prefix)
    }

    /// `{prefix}.internal.{name}`: messages between Olympus processes
    /// (not part of the contract; no client publishes there).
    pub fn internal(&self, name: &str) -> String {
        format!("{}.internal.{name}", self.prefix)
    }

    /// `{prefix}.mail.>`, everything in the mail stream.
    pub fn mail_wildcard(&self) -> String {
        format!("{}.mail.>", self.prefix)
    }

    /// `{PREFIX}_EVENTS`.
    pub fn events_stream(&self) -> String {
        format!("{}_EVENTS", self.stream_base())
    }

    /// `{PREFIX}_MAIL`.
    pub fn mail_stream(&self) -> String {
        format!("{}_MAIL", self.stream_base())
    }

    fn stream_base(&self) -> String {
        self.prefix.to_ascii_uppercase().replace('-', "_")
    }
}

impl Default for Subjects {
    fn default() -> Self {
        Self {
            prefix: Self::DEFAULT_PREFIX.to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_names_match_the_contract() {
        let s = Subjects::default();
        assert_eq!(s.endpoint(Service::Auth, "login"), "olympus.auth.v1.login");
        assert_eq!(
            s.endpoint(Service::Commerce, "orders.create"),
            "olympus.commerce.v1.orders.create"
        );
        assert_eq!(s.events_stream(), "OLYMPUS_EVENTS");
        assert_eq!(s.mail_stream(), "OLYMPUS_MAIL");
        let t = Uuid::nil();
        assert_eq!(
            s.event(t, "order.placed"),
            "olympus.events.00000000-0000-0000-0000-000000000000.order.placed"
        );
    }

    #[test]
    fn stream_names_upper_case_the_prefix_and_turn_dashes_into_underscores() {
        let s = Subjects::new("test-a1b2").unwrap();
        assert_eq!(s.events_stream(), "TEST_A1B2_EVENTS");
        assert_eq!(s.mail_wildcard(), "test-a1b2.mail.>");
    }

    #[test]
    fn prefixes_that_would_break_subjects_are_refused() {
        for bad in ["", "a.b", "a b", "a>", "*", &"x".repeat(65)] {
            assert!(Subjects::new(bad).is_err(), "{bad:?}");
        }
    }
}
