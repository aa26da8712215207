//! The auth worker (`olympus-auth`): logins, sessions and tokens.
//!
//! # Layout
//! - one module per operation: [`login`], [`me`], [`refresh`], [`logout`],
//!   [`verification`] (`verify_email`, and issuing the token);
//! - domain types, built only by parsing: [`email::Email`],
//!   [`password::NewPassword`];
//! - storage: [`users`], [`sessions`] (used by the tenant worker's signup
//!   too).

pub mod email;
pub mod login;
pub mod logout;
pub mod me;
pub mod password;
pub mod refresh;
pub mod sessions;
pub mod users;
pub mod verification;

use olympus_contracts::operation::{self as op, Service};
use olympus_runtime::{endpoint, Worker};

/// The auth worker and its endpoints.
pub fn worker() -> Worker {
    Worker {
        service: Service::Auth,
        version: env!("CARGO_PKG_VERSION"),
        description: "Olympus authentication: logins, sessions and tokens",
        endpoints: vec![
            endpoint(op::AUTH_LOGIN, login::login),
            endpoint(op::AUTH_REFRESH, refresh::refresh),
            endpoint(op::AUTH_LOGOUT, logout::logout),
            endpoint(op::AUTH_ME, me::me),
            endpoint(op::AUTH_VERIFY_EMAIL, verification::verify_email),
        ],
    }
}
