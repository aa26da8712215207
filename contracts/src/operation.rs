//! The catalog of operations (contract §5): which subject, which access.

use serde::Serialize;

use crate::shapes::Role;

/// The three services of Olympus.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Service {
    Auth,
    Tenant,
    Commerce,
}

impl Service {
    /// Every service.
    pub const ALL: [Service; 3] = [Self::Auth, Self::Tenant, Self::Commerce];

    /// The subject token, e.g. `auth`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Auth => "auth",
            Self::Tenant => "tenant",
            Self::Commerce => "commerce",
        }
    }

    /// The NATS micro service name, e.g. `olympus-auth`.
    pub fn micro_name(self) -> &'static str {
        match self {
            Self::Auth => "olympus-auth",
            Self::Tenant => "olympus-tenant",
            Self::Commerce => "olympus-commerce",
        }
    }
}

/// Who may call an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Access {
    /// P: no token.
    Public,
    /// B: `Authorization: Bearer <access token>` required.
    Bearer,
}

/// Who may call an operation, checked by the runtime before the handler
/// runs. Roles are the caller's **current** ones (read when the request
/// arrives), not those written into the access token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Who {
    /// Anyone, without a token.
    Anyone,
    /// Any member of the token's tenant.
    Member,
    /// An owner or admin of the token's tenant.
    Admin,
    /// An owner of the token's tenant.
    Owner,
    /// An owner or admin of the reserved tenant `platform`.
    PlatformAdmin,
}

impl Who {
    /// Whether the operation needs a bearer token.
    pub fn access(self) -> Access {
        match self {
            Self::Anyone => Access::Public,
            _ => Access::Bearer,
        }
    }

    /// Whether a member of role `role` (of the tenant `platform` or not)
    /// may call it.
    pub fn allows(self, role: Role, in_platform_tenant: bool) -> bool {
        let manages = matches!(role, Role::Owner | Role::Admin);
        match self {
            Self::Anyone | Self::Member => true,
            Self::Admin => manages,
            Self::Owner => role == Role::Owner,
            Self::PlatformAdmin => manages && in_platform_tenant,
        }
    }
}

/// One operation of the contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Operation {
    pub service: Service,
    /// The subject suffix after `{prefix}.{service}.v1.`.
    pub name: &'static str,
    /// Who may call it (P is [`Who::Anyone`], B any other).
    pub who: Who,
    /// I: accepts `Idempotency-Key`.
    pub idempotent: bool,
}

impl Operation {
    /// P or B.
    pub fn access(&self) -> Access {
        self.who.access()
    }
}

const fn op(service: Service, name: &'static str, who: Who, idempotent: bool) -> Operation {
    Operation {
        service,
        name,
        who,
        idempotent,
    }
}

use Service::{Auth, Commerce, Tenant};
use Who::{Admin as A, Anyone as P, Member as B, Owner as O, PlatformAdmin as PA};

pub const AUTH_REGISTER: Operation = op(Auth, "register", P, false);
pub const AUTH_LOGIN: Operation = op(Auth, "login", P, false);
pub const AUTH_REFRESH: Operation = op(Auth, "refresh", P, false);
pub const AUTH_LOGOUT: Operation = op(Auth, "logout", P, false);
pub const AUTH_LOGOUT_ALL: Operation = op(Auth, "logout_all", B, false);
pub const AUTH_ME: Operation = op(Auth, "me", B, false);
pub const AUTH_VERIFY_EMAIL: Operation = op(Auth, "verify_email", P, false);
pub const AUTH_RESEND_VERIFICATION: Operation = op(Auth, "resend_verification", B, false);
pub const AUTH_REQUEST_PASSWORD_RESET: Operation = op(Auth, "request_password_reset", P, false);
pub const AUTH_RESET_PASSWORD: Operation = op(Auth, "reset_password", P, false);
pub const AUTH_CHANGE_PASSWORD: Operation = op(Auth, "change_password", B, false);
pub const AUTH_SESSIONS_LIST: Operation = op(Auth, "sessions.list", B, false);
pub const AUTH_SESSIONS_REVOKE: Operation = op(Auth, "sessions.revoke", B, false);
pub const AUTH_INTROSPECT: Operation = op(Auth, "introspect", P, false);
pub const AUTH_UPDATE_ME: Operation = op(Auth, "update_me", B, false);
pub const AUTH_ACCEPT_INVITE: Operation = op(Auth, "accept_invite", P, false);

pub const TENANT_CREATE: Operation = op(Tenant, "create", P, false);
pub const TENANT_GET: Operation = op(Tenant, "get", B, false);
pub const TENANT_UPDATE: Operation = op(Tenant, "update", A, false);
pub const TENANT_MEMBERS_LIST: Operation = op(Tenant, "members.list", A, false);
pub const TENANT_MEMBERS_SET_ROLE: Operation = op(Tenant, "members.set_role", O, false);
pub const TENANT_MEMBERS_REMOVE: Operation = op(Tenant, "members.remove", A, false);
pub const TENANT_MEMBERS_INVITE: Operation = op(Tenant, "members.invite", A, true);
pub const TENANT_MEMBERS_INVITATIONS_LIST: Operation =
    op(Tenant, "members.invitations.list", A, false);
pub const TENANT_MEMBERS_INVITATIONS_REVOKE: Operation =
    op(Tenant, "members.invitations.revoke", A, false);
pub const TENANT_LIST: Operation = op(Tenant, "list", PA, false);
pub const TENANT_SUSPEND: Operation = op(Tenant, "suspend", PA, false);
pub const TENANT_REACTIVATE: Operation = op(Tenant, "reactivate", PA, false);

pub const COMMERCE_PRODUCTS_CREATE: Operation = op(Commerce, "products.create", A, true);
pub const COMMERCE_PRODUCTS_GET: Operation = op(Commerce, "products.get", B, false);
pub const COMMERCE_PRODUCTS_LIST: Operation = op(Commerce, "products.list", B, false);
pub const COMMERCE_PRODUCTS_UPDATE: Operation = op(Commerce, "products.update", A, false);
pub const COMMERCE_INVENTORY_ADJUST: Operation = op(Commerce, "inventory.adjust", A, true);
pub const COMMERCE_ORDERS_CREATE: Operation = op(Commerce, "orders.create", B, true);
pub const COMMERCE_ORDERS_GET: Operation = op(Commerce, "orders.get", B, false);
pub const COMMERCE_ORDERS_LIST: Operation = op(Commerce, "orders.list", B, false);
pub const COMMERCE_ORDERS_CANCEL: Operation = op(Commerce, "orders.cancel", B, true);
pub const COMMERCE_ORDERS_FULFILL: Operation = op(Commerce, "orders.fulfill", A, true);
pub const COMMERCE_PAYMENTS_AUTHORIZE: Operation = op(Commerce, "payments.authorize", B, true);
pub const COMMERCE_PAYMENTS_CAPTURE: Operation = op(Commerce, "payments.capture", A, true);
pub const COMMERCE_PAYMENTS_VOID: Operation = op(Commerce, "payments.void", A, true);
pub const COMMERCE_PAYMENTS_REFUND: Operation = op(Commerce, "payments.refund", A, true);

/// Every operation of contract v1, in the contract's order.
pub const ALL: &[Operation] = &[
    AUTH_REGISTER,
    AUTH_LOGIN,
    AUTH_REFRESH,
    AUTH_LOGOUT,
    AUTH_LOGOUT_ALL,
    AUTH_ME,
    AUTH_UPDATE_ME,
    AUTH_VERIFY_EMAIL,
    AUTH_RESEND_VERIFICATION,
    AUTH_REQUEST_PASSWORD_RESET,
    AUTH_RESET_PASSWORD,
    AUTH_CHANGE_PASSWORD,
    AUTH_SESSIONS_LIST,
    AUTH_SESSIONS_REVOKE,
    AUTH_INTROSPECT,
    AUTH_ACCEPT_INVITE,
    TENANT_CREATE,
    TENANT_GET,
    TENANT_UPDATE,
    TENANT_MEMBERS_LIST,
    TENANT_MEMBERS_SET_ROLE,
    TENANT_MEMBERS_REMOVE,
    TENANT_MEMBERS_INVITE,
    TENANT_MEMBERS_INVITATIONS_LIST,
    TENANT_MEMBERS_INVITATIONS_REVOKE,
    TENANT_LIST,
    TENANT_SUSPEND,
    TENANT_REACTIVATE,
    COMMERCE_PRODUCTS_CREATE,
    COMMERCE_PRODUCTS_GET,
    COMMERCE_PRODUCTS_LIST,
    COMMERCE_PRODUCTS_UPDATE,
    COMMERCE_INVENTORY_ADJUST,
    COMMERCE_ORDERS_CREATE,
    COMMERCE_ORDERS_GET,
    COMMERCE_ORDERS_LIST,
    COMMERCE_ORDERS_CANCEL,
    COMMERCE_ORDERS_FULFILL,
    COMMERCE_PAYMENTS_AUTHORIZE,
    COMMERCE_PAYMENTS_CAPTURE,
    COMMERCE_PAYMENTS_VOID,
    COMMERCE_PAYMENTS_REFUND,
];
