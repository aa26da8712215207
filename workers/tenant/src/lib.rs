//! The tenant worker (`olympus-tenant`): tenants and their members.
//!
//! # Layout
//! - one module per operation: [`create`], [`get`];
//! - domain types: [`slug::Slug`];
//! - storage: [`tenants`].
//!
//! Signup creates the owner through the auth worker's library
//! (`olympus_auth::users`, `olympus_auth::sessions`), so there is one way to
//! make a user and a session.

pub mod create;
pub mod get;
pub mod slug;
pub mod tenants;

use olympus_contracts::operation::{self as op, Service};
use olympus_runtime::{endpoint, Worker};

/// The tenant worker and its endpoints.
pub fn worker() -> Worker {
    Worker {
        service: Service::Tenant,
        version: env!("CARGO_PKG_VERSION"),
        description: "Olympus tenants: signup and tenant administration",
        endpoints: vec![
            endpoint(op::TENANT_CREATE, create::create),
            endpoint(op::TENANT_GET, get::get),
        ],
    }
}
