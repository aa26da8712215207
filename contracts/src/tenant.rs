//! Requests and replies of the tenant service (`{prefix}.tenant.v1.*`).

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::shapes::{Tenant, Tokens, User};
use crate::Secret;

/// `tenant.create` (P): a tenant and its owner, in one transaction.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateTenantRequest {
    /// 3-63 chars of `[a-z0-9-]`, not starting or ending with `-`.
    pub slug: String,
    pub name: String,
    #[serde(deserialize_with = "crate::codec::map_only")]
    pub owner: NewOwner,
}

/// The owner created with a tenant.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewOwner {
    pub email: String,
    pub password: Secret,
    #[serde(default)]
    pub display_name: Option<String>,
}

/// Reply of `tenant.create`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CreateTenantReply {
    pub tenant: Tenant,
    pub owner: User,
    pub tokens: Tokens,
}

/// `tenant.get` (B): the caller's own tenant when `id` is absent.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GetTenantRequest {
    #[serde(default)]
    pub id: Option<Uuid>,
}

/// Reply of `tenant.get`, `tenant.update`, `tenant.suspend`, ...
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TenantReply {
    pub tenant: Tenant,
}
