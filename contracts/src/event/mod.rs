//! Events and mail (contract §7).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::Secret;

pub mod data;

pub use data::EventData;

/// Every event type of the contract. Read only from its wire name (a
/// request's filter names one): not from serde's other forms of an enum,
/// such as a map `{"user.registered": nil}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, schemars::JsonSchema)]
pub enum EventType {
    #[serde(rename = "user.registered")]
    UserRegistered,
    #[serde(rename = "user.logged_in")]
    UserLoggedIn,
    #[serde(rename = "user.login_failed")]
    UserLoginFailed,
    #[serde(rename = "user.locked")]
    UserLocked,
    #[serde(rename = "user.logged_out")]
    UserLoggedOut,
    #[serde(rename = "user.email_verified")]
    UserEmailVerified,
    #[serde(rename = "user.password_changed")]
    UserPasswordChanged,
    #[serde(rename = "user.updated")]
    UserUpdated,
    #[serde(rename = "user.mfa_enabled")]
    UserMfaEnabled,
    #[serde(rename = "user.mfa_disabled")]
    UserMfaDisabled,
    #[serde(rename = "user.recovery_codes_regenerated")]
    UserRecoveryCodesRegenerated,
    #[serde(rename = "user.email_changed")]
    UserEmailChanged,
    #[serde(rename = "user.deleted")]
    UserDeleted,
    #[serde(rename = "session.revoked")]
    SessionRevoked,
    #[serde(rename = "tenant.created")]
    TenantCreated,
    #[serde(rename = "tenant.updated")]
    TenantUpdated,
    #[serde(rename = "tenant.suspended")]
    TenantSuspended,
    #[serde(rename = "tenant.reactivated")]
    TenantReactivated,
    #[serde(rename = "member.role_changed")]
    MemberRoleChanged,
    #[serde(rename = "member.removed")]
    MemberRemoved,
    #[serde(rename = "member.invited")]
    MemberInvited,
    #[serde(rename = "invitation.revoked")]
    InvitationRevoked,
    #[serde(rename = "product.created")]
    ProductCreated,
    #[serde(rename = "product.updated")]
    ProductUpdated,
    #[serde(rename = "inventory.adjusted")]
    InventoryAdjusted,
    #[serde(rename = "product.variant_created")]
    ProductVariantCreated,
    #[serde(rename = "product.variant_updated")]
    ProductVariantUpdated,
    #[serde(rename = "promotion.created")]
    PromotionCreated,
    #[serde(rename = "promotion.updated")]
    PromotionUpdated,
    #[serde(rename = "cart.checked_out")]
    CartCheckedOut,
    #[serde(rename = "order.placed")]
    OrderPlaced,
    #[serde(rename = "order.cancelled")]
    OrderCancelled,
    #[serde(rename = "order.paid")]
    OrderPaid,
    #[serde(rename = "order.fulfilled")]
    OrderFulfilled,
    #[serde(rename = "order.refunded")]
    OrderRefunded,
    #[serde(rename = "payment.authorized")]
    PaymentAuthorized,
    #[serde(rename = "payment.captured")]
    PaymentCaptured,
    #[serde(rename = "payment.failed")]
    PaymentFailed,
    #[serde(rename = "payment.voided")]
    PaymentVoided,
    #[serde(rename = "payment.refunded")]
    PaymentRefunded,
}

impl EventType {
    /// Every event type, in the contract's order.
    pub const ALL: [EventType; 40] = [
        Self::UserRegistered,
        Self::UserLoggedIn,
        Self::UserLoginFailed,
        Self::UserLocked,
        Self::UserLoggedOut,
        Self::UserEmailVerified,
        Self::UserPasswordChanged,
        Self::UserUpdated,
        Self::UserMfaEnabled,
        Self::UserMfaDisabled,
        Self::UserRecoveryCodesRegenerated,
        Self::UserEmailChanged,
        Self::UserDeleted,
        Self::SessionRevoked,
        Self::TenantCreated,
        Self::TenantUpdated,
        Self::TenantSuspended,
        Self::TenantReactivated,
        Self::MemberRoleChanged,
        Self::MemberRemoved,
        Self::MemberInvited,
        Self::InvitationRevoked,
        Self::ProductCreated,
        Self::ProductUpdated,
        Self::InventoryAdjusted,
        Self::ProductVariantCreated,
        Self::ProductVariantUpdated,
        Self::PromotionCreated,
        Self::PromotionUpdated,
        Self::CartCheckedOut,
        Self::OrderPlaced,
        Self::OrderCancelled,
        Self::OrderPaid,
        Self::OrderFulfilled,
        Self::OrderRefunded,
        Self::PaymentAuthorized,
        Self::PaymentCaptured,
        Self::PaymentFailed,
        Self::PaymentVoided,
        Self::PaymentRefunded,
    ];

    /// The wire name and last subject tokens, e.g. `order.placed`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::UserRegistered => "user.registered",
            Self::UserLoggedIn => "user.logged_in",
            Self::UserLoginFailed => "user.login_failed",
            Self::UserLocked => "user.locked",
            Self::UserLoggedOut => "user.logged_out",
            Self::UserEmailVerified => "user.email_verified",
            Self::UserPasswordChanged => "user.password_changed",
            Self::UserUpdated => "user.updated",
            Self::UserMfaEnabled => "user.mfa_enabled",
            Self::UserMfaDisabled => "user.mfa_disabled",
            Self::UserRecoveryCodesRegenerated => "user.recovery_codes_regenerated",
            Self::UserEmailChanged => "user.email_changed",
            Self::UserDeleted => "user.deleted",
            Self::SessionRevoked => "session.revoked",
            Self::TenantCreated => "tenant.created",
            Self::TenantUpdated => "tenant.updated",
            Self::TenantSuspended => "tenant.suspended",
            Self::TenantReactivated => "tenant.reactivated",
            Self::MemberRoleChanged => "member.role_changed",
            Self::MemberRemoved => "member.removed",
            Self::MemberInvited => "member.invited",
            Self::InvitationRevoked => "invitation.revoked",
            Self::ProductCreated => "product.created",
            Self::ProductUpdated => "product.updated",
            Self::InventoryAdjusted => "inventory.adjusted",
            Self::ProductVariantCreated => "product.variant_created",
            Self::ProductVariantUpdated => "product.variant_updated",
            Self::PromotionCreated => "promotion.created",
            Self::PromotionUpdated => "promotion.updated",
            Self::CartCheckedOut => "cart.checked_out",
            Self::OrderPlaced => "order.placed",
            Self::OrderCancelled => "order.cancelled",
            Self::OrderPaid => "order.paid",
            Self::OrderFulfilled => "order.fulfilled",
            Self::OrderRefunded => "order.refunded",
            Self::PaymentAuthorized => "payment.authorized",
            Self::PaymentCaptured => "payment.captured",
            Self::PaymentFailed => "payment.failed",
            Self::PaymentVoided => "payment.voided",
            Self::PaymentRefunded => "payment.refunded",
        }
    }

    /// Parses a wire name.
    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == value)
    }
}

impl<'de> Deserialize<'de> for EventType {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        static NAMES: std::sync::LazyLock<Vec<&'static str>> =
            std::sync::LazyLock::new(|| EventType::ALL.iter().map(|t| t.as_str()).collect());
        struct Name;
        impl serde::de::Visitor<'_> for Name {
            type Value = EventType;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an event type's name, such as `order.placed`")
            }
            fn visit_str<E: serde::de::Error>(self, value: &str) -> Result<EventType, E> {
                EventType::parse(value).ok_or_else(|| E::unknown_variant(value, &NAMES))
            }
        }
        deserializer.deserialize_str(Name)
    }
}

/// Events and mail are JSON on the streams, whatever the request's encoding:
/// subscribers in any language read them without a MessagePack library, and
/// operators read them with `nats sub`.
pub const CONTENT_TYPE: &str = "application/json";

/// The version of every envelope and `data` shape in contract v1.
pub const SCHEMA_VERSION: u32 = 1;

/// A new event's id: a UUIDv7 whose time is `occurred_at`, to the
/// millisecond, and the rest random. Ids then order events by their time,
/// and a time range bounds their ids ([`ids_before`], [`ids_from`]), so the audit log
/// reads a range of a tenant's events on its id index.
pub fn event_id(occurred_at: DateTime<Utc>) -> Uuid {
    let seconds = u64::try_from(occurred_at.timestamp()).unwrap_or(0);
    Uuid::new_v7(uuid::Timestamp::from_unix(
        uuid::NoContext,
        seconds,
        occurred_at.timestamp_subsec_nanos(),
    ))
}

/// An upper bound of the ids of events that occurred before `at`: the
/// least UUIDv7 of the millisecond after `at`'s. Every [`event_id`] of an
/// event that occurred before `at` is less (as Postgres compares uuids,
/// byte by byte), and so is every id `Uuid::now_v7()` made before `at`
/// on the same clock (the ids of events recorded before [`event_id`]).
pub fn ids_before(at: DateTime<Utc>) -> Uuid {
    least_of_millisecond(at.timestamp_millis().saturating_add(1))
}

/// A lower bound of the ids of events that occurred at `at` or after: the
/// least UUIDv7 of `at`'s millisecond, less `slack`. Exact for every
/// [`event_id`] with no slack; events recorded before it have ids made
/// just before their time, on the same clock, so a slack of far more than
/// that holds them too.
pub fn ids_from(at: DateTime<Utc>, slack: chrono::Duration) -> Uuid {
    least_of_millisecond(
        at.timestamp_millis()
            .saturating_sub(slack.num_milliseconds()),
    )
}

fn least_of_millisecond(ms: i64) -> Uuid {
    let ms = u128::try_from(ms).unwrap_or(0).min(0xFFFF_FFFF_FFFF);
    Uuid::from_u128(ms << 80)
}

/// The envelope of every event on `{prefix}.events.{tenant_id}.{type}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Envelope {
    /// UUIDv7 whose time is `occurred_at`'s millisecond ([`event_id`]);
    /// also the `Nats-Msg-Id` header.
    pub id: Uuid,
    #[serde(rename = "type")]
    pub event_type: EventType,
    pub tenant_id: Uuid,
    pub occurred_at: DateTime<Utc>,
    pub correlation_id: String,
    pub actor_id: Option<Uuid>,
    pub schema_version: u32,
    /// The type's shape: see [`data`] and `spec/v1.json`'s `event_data`.
    pub data: serde_json::Value,
}

/// Mail templates (`{prefix}.mail.{tenant_id}.{template}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum MailTemplate {
    VerifyEmail,
    PasswordReset,
    Invite,
    /// Revision 3: the token confirming an address change, to the new
    /// address.
    EmailChange,
    /// Revision 3: a notice, without a token, to the old address that the
    /// account moved.
    EmailChanged,
}

impl MailTemplate {
    /// Every template.
    pub const ALL: [MailTemplate; 5] = [
        Self::VerifyEmail,
        Self::PasswordReset,
        Self::Invite,
        Self::EmailChange,
        Self::EmailChanged,
    ];

    /// The wire name and last subject token.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::VerifyEmail => "verify_email",
            Self::PasswordReset => "password_reset",
            Self::Invite => "invite",
            Self::EmailChange => "email_change",
            Self::EmailChanged => "email_changed",
        }
    }
}

/// A message for the mailer on the mail stream; the only place a
/// verification or reset token travels.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Mail {
    pub id: Uuid,
    pub template: MailTemplate,
    pub to: String,
    pub tenant_id: Uuid,
    /// The user the mail is about; nil for an invitation.
    pub user_id: Option<Uuid>,
    /// Absent from notices (`email_changed`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<Secret>,
    /// When `token` stops working; absent with it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
    pub correlation_id: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Postgres compares uuids byte by byte, as `Uuid`'s `Ord` does.
    #[test]
    fn a_time_range_bounds_the_ids_of_its_events_and_no_others() {
        let at: DateTime<Utc> = "2026-12-06T10:00:00.000500Z".parse().unwrap();
        let ms = chrono::Duration::milliseconds(1);
        let us = chrono::Duration::microseconds(1);
        for _ in 0..100 {
            // Before `at`, in its millisecond too: below the bound.
            assert!(event_id(at - us) < ids_before(at));
            assert!(event_id(at - ms * 2) < ids_before(at));
            assert!(Uuid::now_v7() < ids_before(Utc::now() + us));
            // A millisecond after `at`'s: above it.
            assert!(event_id(at + ms) >= ids_before(at));
            // At `at` or after: at or above the lower bound, without slack.
            let slack = chrono::Duration::zero();
            assert!(event_id(at) >= ids_from(at, slack));
            assert!(event_id(at + us) >= ids_from(at, slack));
            assert!(event_id(at - ms) < ids_from(at, slack));
            assert!(event_id(at - ms) >= ids_from(at, ms));
        }
        assert_eq!(event_id(at).get_version_num(), 7);
        assert_eq!(
            event_id(at).get_timestamp().unwrap().to_unix(),
            (at.timestamp() as u64, 0)
        );
    }

    #[test]
    fn serde_names_match_wire_names() {
        for t in EventType::ALL {
            assert_eq!(
                serde_json::to_value(t).unwrap(),
                serde_json::Value::from(t.as_str())
            );
            assert_eq!(EventType::parse(t.as_str()), Some(t));
        }
    }
}
