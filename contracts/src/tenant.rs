//! Requests and replies of the tenant service (`{prefix}.tenant.v1.*`).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::shapes::{Invitation, Role, Tenant, TenantStatus, Tokens, User};
use crate::Secret;

/// `tenant.create` (P): a tenant and its owner, in one transaction.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTenantRequest {
    /// 3-63 chars of `[a-z0-9-]`, not starting or ending with `-`.
    pub slug: String,
    pub name: String,
    #[serde(deserialize_with = "crate::codec::map_only")]
    pub owner: NewOwner,
}

/// The owner created with a tenant.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewOwner {
    pub email: String,
    pub password: Secret,
    #[serde(default)]
    pub display_name: Option<String>,
}

/// Reply of `tenant.create`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct CreateTenantReply {
    pub tenant: Tenant,
    pub owner: User,
    pub tokens: Tokens,
}

/// `tenant.get` (B): the caller's own tenant when `id` is absent.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetTenantRequest {
    #[serde(default)]
    pub id: Option<Uuid>,
}

/// Reply of `tenant.get`, `tenant.update`, `tenant.suspend`, ...
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct TenantReply {
    pub tenant: Tenant,
}

/// `tenant.update` (owner, admin): an absent field is left as it is.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateTenantRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub self_registration: Option<bool>,
    /// Owners only: whether members need TOTP (revision 3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub require_mfa: Option<bool>,
}

/// `tenant.members.set_role` (owner).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SetRoleRequest {
    pub user_id: Uuid,
    pub role: Role,
}

/// `tenant.members.remove` (owner, admin): the member's sessions end.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RemoveMemberRequest {
    pub user_id: Uuid,
}

/// `tenant.members.invite` (owner, admin; only owners invite admins).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InviteRequest {
    pub email: String,
    /// `admin` or `member`.
    pub role: Role,
}

/// Reply of `tenant.members.invite`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct InvitationReply {
    pub invitation: Invitation,
}

/// `tenant.members.invitations.revoke` (owner, admin).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RevokeInvitationRequest {
    pub id: Uuid,
}

/// `tenant.list` (platform admin): a page of tenants, optionally of one
/// status.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListTenantsRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<TenantStatus>,
}

/// `tenant.suspend` and `tenant.reactivate` (platform admin).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TenantIdRequest {
    pub id: Uuid,
}

/// `tenant.audit.list` (owner, admin; revision 3): the tenant's events,
/// newest first, a page at a time; each filter narrows it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AuditListRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    /// Only events of this type.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub event_type: Option<crate::event::EventType>,
    /// Only events by this actor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor_id: Option<Uuid>,
    /// Only events that occurred at or after this time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<chrono::DateTime<chrono::Utc>>,
    /// Only events that occurred before this time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<chrono::DateTime<chrono::Utc>>,
}
