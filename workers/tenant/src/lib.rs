//! The tenant worker (`olympus-tenant`): tenants, their members and
//! invitations, and what platform administrators do to tenants.
//!
//! # Layout
//! - one module per operation or group: [`create`], [`get`], [`update`],
//!   [`members`] (list, set_role, remove), [`invitations`] (invite, list,
//!   revoke), [`platform`] (list, suspend, reactivate);
//! - domain types: [`slug::Slug`];
//! - storage: [`tenants`].
//!
//! Who may call what is declared in the operation catalog
//! (`olympus_contracts::operation`) and checked by the runtime against the
//! caller's current role before a handler runs. Users, sessions and
//! invitation tokens come from the auth worker's library (`olympus_auth`),
//! so there is one way to make a user, a session or an invitation.

pub mod bootstrap;
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

/// The tenant worker and its endpoints.
pub fn worker() -> Worker {
    Worker {
        service: Service::Tenant,
        version: env!("CARGO_PKG_VERSION"),
        description: "Olympus tenants: signup, members, invitations and tenant administration",
        endpoints: vec![
            endpoint(op::TENANT_CREATE, create::create),
            endpoint(op::TENANT_GET, get::get),
            endpoint(op::TENANT_UPDATE, update::update),
            endpoint(op::TENANT_MEMBERS_LIST, members::list),
            endpoint(op::TENANT_MEMBERS_SET_ROLE, members::set_role),
            endpoint(op::TENANT_MEMBERS_REMOVE, members::remove),
            endpoint(op::TENANT_MEMBERS_INVITE, invitations::invite),
            endpoint(op::TENANT_MEMBERS_INVITATIONS_LIST, invitations::list),
            endpoint(op::TENANT_MEMBERS_INVITATIONS_REVOKE, invitations::revoke),
            endpoint(op::TENANT_LIST, platform::list),
            endpoint(op::TENANT_SUSPEND, platform::suspend),
            endpoint(op::TENANT_REACTIVATE, platform::reactivate),
        ],
    }
}
