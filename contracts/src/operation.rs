//! The catalog of operations (contract §5): which subject, which access.

use serde::Serialize;

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

/// One operation of the contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Operation {
    pub service: Service,
    /// The subject suffix after `{prefix}.{service}.v1.`.
    pub name: &'static str,
    pub access: Access,
    /// I: accepts `Idempotency-Key`.
    pub idempotent: bool,
}

const fn op(service: Service, name: &'static str, access: Access, idempotent: bool) -> Operation {
    Operation {
        service,
        name,
        access,
        idempotent,
    }
}

use Access::{Bearer as B, Public as P};
use Service::{Auth, Commerce, Tenant};

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
pub const TENANT_UPDATE: Operation = op(Tenant, "update", B, false);
pub const TENANT_MEMBERS_LIST: Operation = op(Tenant, "members.list", B, false);
pub const TENANT_MEMBERS_SET_ROLE: Operation = op(Tenant, "members.set_role", B, false);
pub const TENANT_MEMBERS_REMOVE: Operation = op(Tenant, "members.remove", B, false);
pub const TENANT_MEMBERS_INVITE: Operation = op(Tenant, "members.invite", B, true);
pub const TENANT_MEMBERS_INVITATIONS_LIST: Operation =
    op(Tenant, "members.invitations.list", B, false);
pub const TENANT_MEMBERS_INVITATIONS_REVOKE: Operation =
    op(Tenant, "members.invitations.revoke", B, false);
pub const TENANT_LIST: Operation = op(Tenant, "list", B, false);
pub const TENANT_SUSPEND: Operation = op(Tenant, "suspend", B, false);
pub const TENANT_REACTIVATE: Operation = op(Tenant, "reactivate", B, false);

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
    op(Commerce, "products.create", B, true),
    op(Commerce, "products.get", B, false),
    op(Commerce, "products.list", B, false),
    op(Commerce, "products.update", B, false),
    op(Commerce, "inventory.adjust", B, true),
    op(Commerce, "orders.create", B, true),
    op(Commerce, "orders.get", B, false),
    op(Commerce, "orders.list", B, false),
    op(Commerce, "orders.cancel", B, true),
    op(Commerce, "orders.fulfill", B, true),
    op(Commerce, "payments.authorize", B, true),
    op(Commerce, "payments.capture", B, true),
    op(Commerce, "payments.void", B, true),
    op(Commerce, "payments.refund", B, true),
];
