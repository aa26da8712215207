//! The `data` of each event type (contract §7): one struct per type, so a
//! handler cannot record a shape the spec does not list, and subscribers
//! read exactly the fields of `spec/v1.json`'s `event_data`.
//!
//! [`EventData::TYPE`] ties each struct to its type: recording an event
//! takes the struct, and the type follows. No event carries a password,
//! hash or token. Like every reply shape, they accept fields they do not
//! know when read: revisions only add fields (contract §8), and a reader
//! built against an older one must keep working.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::EventType;
use crate::commerce::{Money, Order, Payment, Product, Promotion, Variant};
use crate::shapes::{Role, Tenant, User};

/// The `data` of one event type.
pub trait EventData: Serialize + JsonSchema {
    /// The type this shape is the `data` of.
    const TYPE: EventType;
}

macro_rules! event_data {
    ($($ty:ident => $event:ident),* $(,)?) => {
        $(impl EventData for $ty {
            const TYPE: EventType = EventType::$event;
        })*

        /// Every event type that has a `data` shape, with its JSON Schema.
        pub fn schemas() -> Vec<(EventType, schemars::Schema)> {
            vec![$((EventType::$event, schemars::schema_for!($ty))),*]
        }
    };
}

event_data! {
    TenantCreated => TenantCreated,
    UserRegistered => UserRegistered,
    UserLoggedIn => UserLoggedIn,
    UserLoginFailed => UserLoginFailed,
    UserLoggedOut => UserLoggedOut,
    SessionRevoked => SessionRevoked,
    UserEmailVerified => UserEmailVerified,
    UserLocked => UserLocked,
    UserPasswordChanged => UserPasswordChanged,
    TenantUpdated => TenantUpdated,
    TenantSuspended => TenantSuspended,
    TenantReactivated => TenantReactivated,
    MemberRoleChanged => MemberRoleChanged,
    MemberRemoved => MemberRemoved,
    MemberInvited => MemberInvited,
    UserUpdated => UserUpdated,
    UserMfaEnabled => UserMfaEnabled,
    UserMfaDisabled => UserMfaDisabled,
    UserRecoveryCodesRegenerated => UserRecoveryCodesRegenerated,
    UserEmailChanged => UserEmailChanged,
    UserDeleted => UserDeleted,
    InvitationRevoked => InvitationRevoked,
    ProductCreated => ProductCreated,
    ProductUpdated => ProductUpdated,
    InventoryAdjusted => InventoryAdjusted,
    ProductVariantCreated => ProductVariantCreated,
    ProductVariantUpdated => ProductVariantUpdated,
    PromotionCreated => PromotionCreated,
    PromotionUpdated => PromotionUpdated,
    CartCheckedOut => CartCheckedOut,
    OrderPlaced => OrderPlaced,
    OrderCancelled => OrderCancelled,
    OrderPaid => OrderPaid,
    OrderFulfilled => OrderFulfilled,
    OrderRefunded => OrderRefunded,
    PaymentAuthorized => PaymentAuthorized,
    PaymentCaptured => PaymentCaptured,
    PaymentFailed => PaymentFailed,
    PaymentVoided => PaymentVoided,
    PaymentRefunded => PaymentRefunded,
}

/// `tenant.created`: a tenant and its owner were signed up.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TenantCreated {
    pub tenant: Tenant,
}

/// A user as events carry it: the fields of a [`User`], the personal ones
/// (`email`, `display_name`, `phone`) absent from the stored events of a
/// user who was erased (`auth.delete_me`, revision 3). Events already
/// published keep what they carried.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct EventUser {
    pub id: Uuid,
    pub tenant_id: Uuid,
    /// In its normal form; absent once the user was erased.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Absent once the user was erased.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// E.164, when the user gave one; absent once the user was erased.
    #[serde(default)]
    pub phone: Option<String>,
    pub role: Role,
    pub email_verified: bool,
    /// Revision 3; absent from events stored before it.
    #[serde(default)]
    pub mfa_enabled: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub last_login_at: Option<DateTime<Utc>>,
}

impl From<User> for EventUser {
    fn from(user: User) -> Self {
        Self {
            id: user.id,
            tenant_id: user.tenant_id,
            email: Some(user.email),
            display_name: Some(user.display_name),
            phone: user.phone,
            role: user.role,
            email_verified: user.email_verified,
            mfa_enabled: user.mfa_enabled,
            created_at: user.created_at,
            updated_at: user.updated_at,
            last_login_at: user.last_login_at,
        }
    }
}

/// `user.registered`: a user was created (the owner at signup, or later
/// by registration or invitation).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct UserRegistered {
    pub user: EventUser,
}

/// `user.logged_in`: a login opened a session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct UserLoggedIn {
    pub user_id: Uuid,
    pub session_id: Uuid,
    /// The client's address as the gateway saw it, when it was a valid IP.
    pub ip: Option<String>,
    /// The client's agent, at most 512 bytes.
    pub user_agent: Option<String>,
}

/// Why a login failed, for the tenant's eyes only (the caller always gets
/// the same `invalid_credentials`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum LoginFailure {
    UnknownUser,
    WrongPassword,
    TenantSuspended,
    /// The account is locked: the password was not even compared.
    Locked,
    /// The password was right, but the second factor (`auth.login_mfa`'s
    /// TOTP or recovery code) was wrong (revision 3).
    WrongCode,
}

/// `user.login_failed`: a login into an existing tenant failed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct UserLoginFailed {
    /// The user the email belongs to, if any.
    pub user_id: Option<Uuid>,
    /// The email tried, when it was a valid address.
    pub email: Option<String>,
    pub reason: LoginFailure,
    pub ip: Option<String>,
}

/// `user.locked`: too many consecutive failed logins; the account refuses
/// every login, even with the right password, until `locked_until` (or a
/// password reset).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct UserLocked {
    pub user_id: Uuid,
    pub failed_logins: u32,
    pub locked_until: DateTime<Utc>,
}

/// How a password changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PasswordChange {
    /// The user gave the current one (`auth.change_password`).
    Changed,
    /// With a reset token from the mail (`auth.reset_password`).
    Reset,
}

/// `user.password_changed`: the user's password changed; their other
/// sessions were revoked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct UserPasswordChanged {
    pub user_id: Uuid,
    pub how: PasswordChange,
    /// Sessions revoked by the change.
    pub sessions_revoked: u64,
}

/// `user.logged_out`: a user ended one session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct UserLoggedOut {
    pub user_id: Uuid,
    pub session_id: Uuid,
}

/// Why a session was revoked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RevocationReason {
    /// The user logged out.
    Logout,
    /// A rotated refresh token was presented again after the grace period.
    RefreshTokenReused,
    /// The user logged out everywhere (`auth.logout_all`).
    LogoutAll,
    /// The user ended this session from another (`auth.sessions.revoke`).
    Revoked,
    /// The password changed: every other session ends.
    PasswordChanged,
    /// The member was removed from the tenant.
    MemberRemoved,
    /// The user turned TOTP on: every other session ends, so that none
    /// opened with the password alone stays (revision 3).
    MfaEnabled,
    /// The user turned MFA off: every other session ends (revision 3).
    MfaDisabled,
    /// The user's email changed: every other session ends (revision 3).
    EmailChanged,
    /// The user deleted their account (`auth.delete_me`): every session
    /// ends (revision 3).
    UserDeleted,
}

/// `session.revoked`: a session's tokens stopped working.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SessionRevoked {
    pub user_id: Uuid,
    pub session_id: Uuid,
    pub reason: RevocationReason,
}

/// `user.email_verified`: a user proved their address.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct UserEmailVerified {
    pub user_id: Uuid,
    /// Absent from the stored events of a user who was erased.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

/// `tenant.updated`: the tenant's name or `self_registration` changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TenantUpdated {
    pub tenant: Tenant,
}

/// `tenant.suspended`: the tenant's users can no longer log in, and their
/// access tokens are refused.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TenantSuspended {
    pub tenant: Tenant,
}

/// `tenant.reactivated`: a suspended tenant's users may work again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TenantReactivated {
    pub tenant: Tenant,
}

/// `member.role_changed`: an owner changed a member's role.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct MemberRoleChanged {
    pub user_id: Uuid,
    pub from: Role,
    pub to: Role,
}

/// `member.removed`: a member left the tenant; their sessions ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct MemberRemoved {
    pub user_id: Uuid,
    /// Absent from the stored events of a user who was erased.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

/// `member.invited`: an invitation was mailed (the token is only in the
/// mail).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct MemberInvited {
    pub invitation_id: Uuid,
    /// The invited address; absent from the stored events of a user of
    /// that address who was erased.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    pub role: Role,
    pub expires_at: DateTime<Utc>,
}

/// `user.updated` (revision 3): the user changed their profile
/// (`auth.update_me`); the user as they are now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct UserUpdated {
    pub user: EventUser,
}

/// `user.mfa_enabled` (revision 3): the user confirmed a TOTP
/// authenticator (`auth.mfa.totp.confirm`); their logins now ask for a
/// code, and their other sessions were revoked. No secret, code or hash.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct UserMfaEnabled {
    pub user_id: Uuid,
    /// Recovery codes issued with it.
    pub recovery_codes: u32,
    /// Sessions revoked by it.
    pub sessions_revoked: u64,
}

/// `user.mfa_disabled` (revision 3): the user turned TOTP off
/// (`auth.mfa.disable`, with their password and a code); their recovery
/// codes are gone and their other sessions were revoked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct UserMfaDisabled {
    pub user_id: Uuid,
    /// Sessions revoked by it.
    pub sessions_revoked: u64,
}

/// `user.recovery_codes_regenerated` (revision 3): the user's recovery
/// codes were replaced (`auth.mfa.recovery_codes.regenerate`); the old
/// ones stopped working. No code or hash.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct UserRecoveryCodesRegenerated {
    pub user_id: Uuid,
    /// Recovery codes issued.
    pub recovery_codes: u32,
}

/// `user.email_changed` (revision 3): the user confirmed a new address
/// (`auth.confirm_email_change`); it counts as verified, and their other
/// sessions were revoked. The addresses are personal data: absent from the
/// stored events of a user who was erased.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct UserEmailChanged {
    pub user_id: Uuid,
    /// The new address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// The address before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_email: Option<String>,
    /// Sessions revoked by the change.
    pub sessions_revoked: u64,
}

/// `user.deleted` (revision 3): the user erased their account
/// (`auth.delete_me`): their personal data is gone from the tenant, their
/// sessions ended, and their orders keep `customer_id` without the person.
/// It carries no personal data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct UserDeleted {
    pub user_id: Uuid,
    /// Sessions revoked by it.
    pub sessions_revoked: u64,
    /// Orders kept, without the person (addresses, contact phone).
    pub orders_kept: u64,
}

/// `invitation.revoked` (revision 3): a pending invitation was revoked; its
/// token stopped working.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct InvitationRevoked {
    pub invitation_id: Uuid,
    /// The invited address; absent from the stored events of a user of
    /// that address who was erased.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    pub role: Role,
}

/// `product.created`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ProductCreated {
    pub product: Product,
}

/// `product.updated`: the product as it is now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ProductUpdated {
    pub product: Product,
}

/// `inventory.adjusted`: stock changed by hand (orders reserve and release
/// stock without this event; their own events say so).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct InventoryAdjusted {
    pub product_id: Uuid,
    /// Revision 3: the variant whose stock changed (absent from events
    /// stored before it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant_id: Option<Uuid>,
    /// The variant's SKU.
    pub sku: String,
    pub delta: i64,
    /// The stock after the change.
    pub stock: i64,
    pub reason: Option<String>,
}

/// `product.variant_created` (revision 3): a variant was added
/// (`products.variants.create`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ProductVariantCreated {
    pub product_id: Uuid,
    pub variant: Variant,
}

/// `product.variant_updated` (revision 3): a variant's price or status
/// changed (`products.variants.update`; a product's price, which is its
/// first variant's, changes by `products.update`, as `product.updated`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ProductVariantUpdated {
    pub product_id: Uuid,
    pub variant: Variant,
}

/// `promotion.created` (revision 3): a promotion's code exists
/// (`promotions.create`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PromotionCreated {
    pub promotion: Promotion,
}

/// `promotion.updated` (revision 3): a promotion's status, end or usage
/// limit changed (`promotions.update`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PromotionUpdated {
    pub promotion: Promotion,
}

/// `cart.checked_out` (revision 3): a cart became the order `order_id`
/// (whose `order.placed` carries its lines and totals); the cart is
/// closed. No address: they are the order's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CartCheckedOut {
    pub cart_id: Uuid,
    pub order_id: Uuid,
    pub customer_id: Uuid,
    /// The code applied, if any.
    pub promotion_code: Option<String>,
    pub subtotal: Money,
    pub discount_total: Money,
    pub total: Money,
}

/// `order.placed`: an order with its lines; their stock is reserved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct OrderPlaced {
    pub order: Order,
}

/// `order.cancelled`: its stock is released.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct OrderCancelled {
    pub order: Order,
}

/// `order.paid`: its payment was captured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct OrderPaid {
    pub order: Order,
    pub payment_id: Uuid,
}

/// `order.fulfilled`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct OrderFulfilled {
    pub order: Order,
}

/// `order.refunded`: its payment was refunded in full.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct OrderRefunded {
    pub order: Order,
    pub payment_id: Uuid,
}

/// `payment.authorized`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PaymentAuthorized {
    pub payment: Payment,
}

/// `payment.captured`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PaymentCaptured {
    pub payment: Payment,
}

/// `payment.failed`: the provider declined it (`failure_reason`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PaymentFailed {
    pub payment: Payment,
}

/// `payment.voided`: an authorization released without a capture.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PaymentVoided {
    pub payment: Payment,
}

/// `payment.refunded`: `amount` went back; the payment shows the total.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PaymentRefunded {
    pub payment: Payment,
    pub amount: Money,
}
