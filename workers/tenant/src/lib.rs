//! The tenant worker (`olympus-tenant`): tenants, their members and
//! invitations, and what platform administrators do to tenants.
//!
//! # Layout
//! - one module per operation or group: [`create`], [`get`], [`update`],
//!   [`members`] (list, set_role, remove), [`invitations`] (invite, list,
//!   revoke), [`platform`] (list, suspend, reactivate), [`audit`] (the
//!   audit log);
//! - domain types: [`slug::Slug`];
//! - storage: [`tenants`].
//!
//! Who may call what is declared in the operation catalog
//! (`olympus_contracts::operation`) and checked by the runtime against the
//! caller's current role before a handler runs. Users, sessions and
//! invitation tokens come from the auth worker's library (`olympus_auth`),
//! so there is one way to make a user, a session or an invitation.

pub mod audit;
pub mod create;
pub mod get;
pub mod invitations;
pub mod members;
pub mod platform;
pub mod slug;
pub mod tenants;
pub mod update;

use olympus_contracts::operation::{self as op, Service};
use olympus_runtime::{endpoint, Worker};

/// Where revocations are read (`olympus_runtime::revocation::Sources`):
/// every tenant that is suspended, requires MFA of its members, or has a
/// request rate of its own (`olympus admin tenant-rate`).
pub const FLAGGED_TENANTS: &str =
    "SELECT id, status = 'suspended', require_mfa, request_rate, request_burst FROM tenants
      WHERE status = 'suspended' OR require_mfa OR request_rate IS NOT NULL";

/// The tenant worker and its endpoints.
pub fn worker() -> Worker {
    Worker {
        service: Service::Tenant,
        version: env!("CARGO_PKG_VERSION"),
        description: "Olympus tenants: signup, members, invitations and tenant administration",
        endpoints: vec![
            endpoint(op::TenantCreate, create::create),
            endpoint(op::TenantGet, get::get),
            endpoint(op::TenantUpdate, update::update),
            endpoint(op::TenantMembersList, members::list),
            endpoint(op::TenantMembersSetRole, members::set_role),
            endpoint(op::TenantMembersRemove, members::remove),
            endpoint(op::TenantMembersInvite, invitations::invite),
            endpoint(op::TenantMembersInvitationsList, invitations::list),
            endpoint(op::TenantMembersInvitationsRevoke, invitations::revoke),
            endpoint(op::TenantList, platform::list),
            endpoint(op::TenantSuspend, platform::suspend),
            endpoint(op::TenantReactivate, platform::reactivate),
            endpoint(op::TenantAuditList, audit::list),
        ],
        prepare: None,
    }
}
