//! Shapes shared by several operations (contract §4).

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::Secret;

/// A member's role within a tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Owner,
    Admin,
    Member,
}

impl Role {
    /// The wire and database name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Owner => "owner",
            Self::Admin => "admin",
            Self::Member => "member",
        }
    }

    /// Parses the wire and database name.
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "owner" => Some(Self::Owner),
            "admin" => Some(Self::Admin),
            "member" => Some(Self::Member),
            _ => None,
        }
    }
}

/// Whether a tenant's users may work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TenantStatus {
    Active,
    Suspended,
}

impl TenantStatus {
    /// The wire and database name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Suspended => "suspended",
        }
    }

    /// Parses the wire and database name.
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "active" => Some(Self::Active),
            "suspended" => Some(Self::Suspended),
            _ => None,
        }
    }
}

/// A user of a tenant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct User {
    pub id: Uuid,
    pub tenant_id: Uuid,
    /// In its normal form: trimmed, NFKC-normalized, lower-cased, the
    /// domain by UTS-46 in its Unicode form; every spelling that normalizes
    /// to it names this user.
    pub email: String,
    pub display_name: String,
    /// E.164 (`+4930123456`), when the user gave one.
    pub phone: Option<String>,
    pub role: Role,
    pub email_verified: bool,
    /// Whether the user confirmed a TOTP authenticator: their logins ask
    /// for a code (revision 3; absent from events stored before it).
    #[serde(default)]
    pub mfa_enabled: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub last_login_at: Option<DateTime<Utc>>,
}

/// A tenant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Tenant {
    pub id: Uuid,
    pub slug: String,
    pub name: String,
    pub status: TenantStatus,
    /// Whether anyone may `auth.register` into it; when false, users join
    /// only by invitation.
    pub self_registration: bool,
    /// Whether its members need TOTP: tokens of a login without a code
    /// reach only `auth.me`, `auth.mfa.*`, `auth.logout` and
    /// `auth.logout_all` (revision 3; absent from events stored before it).
    #[serde(default)]
    pub require_mfa: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A pending invitation to join a tenant (`tenant.members.invite`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Invitation {
    pub id: Uuid,
    pub email: String,
    /// `admin` or `member`.
    pub role: Role,
    pub expires_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
}

/// The page request of every list operation: `{limit?: 1..100 (default
/// 20), cursor?}`. A cursor is the `next_cursor` of the previous page of
/// the same operation, tenant and filter; anything else is `bad_request`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PageRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}

impl PageRequest {
    /// Items per page when `limit` is absent.
    pub const DEFAULT_LIMIT: u32 = 20;
    /// The largest `limit`.
    pub const MAX_LIMIT: u32 = 100;
}

/// A page of a list: `{items, next_cursor}`; `next_cursor` is nil on the
/// last page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(rename = "PageOf{T}")]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

/// A token pair as returned by signup, login and refresh.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Tokens {
    pub access_token: Secret,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    pub refresh_token: Secret,
    /// Seconds until the refresh token expires.
    pub refresh_expires_in: u64,
}

/// The empty request or reply `{}`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Empty {}

crate::names_only!(Role: "owner", "admin", "member");

crate::names_only!(TenantStatus: "active", "suspended");
