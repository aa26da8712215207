//! The auth worker (`olympus-auth`): logins, sessions and tokens.
//!
//! # Layout
//! - one module per operation: [`register`], [`login`], [`me`], [`refresh`],
//!   [`logout`], [`logout_all`], [`sessions_list`], [`sessions_revoke`],
//!   [`change_password`], [`password_reset`] (request and reset),
//!   [`resend_verification`], [`introspect`], [`verification`]
//!   (`verify_email`, and issuing the token), [`update_me`],
//!   [`accept_invite`];
//! - [`members`]: the one way a user is created (signup's owner,
//!   registration, an accepted invitation), with session, event and mail;
//! - [`lockout`]: the try every password check takes, and the lock that
//!   consecutive wrong passwords bring, for `login` and every operation
//!   that asks for the password again;
//! - [`invitations`]: the invitation token and mail, shared with the
//!   tenant worker's `members.invite`;
//! - domain types, built only by parsing: [`email::Email`],
//!   [`password::NewPassword`];
//! - storage: [`users`], [`sessions`] (used by the tenant worker's signup
//!   too).

pub mod accept_invite;
pub mod address_limit;
pub mod change_password;
pub mod email;
pub mod hashing;
pub mod introspect;
pub mod invitations;
pub mod lockout;
pub mod login;
pub mod logout;
pub mod logout_all;
pub mod me;
pub mod members;
pub mod opaque;
pub mod password;
pub mod password_reset;
pub mod refresh;
pub mod register;
pub mod resend_verification;
pub mod sessions;
pub mod sessions_list;
pub mod sessions_revoke;
pub mod tokens;
pub mod update_me;
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
            endpoint(op::AUTH_REGISTER, register::register),
            endpoint(op::AUTH_LOGIN, login::login),
            endpoint(op::AUTH_REFRESH, refresh::refresh),
            endpoint(op::AUTH_LOGOUT, logout::logout),
            endpoint(op::AUTH_LOGOUT_ALL, logout_all::logout_all),
            endpoint(op::AUTH_ME, me::me),
            endpoint(op::AUTH_UPDATE_ME, update_me::update_me),
            endpoint(op::AUTH_VERIFY_EMAIL, verification::verify_email),
            endpoint(op::AUTH_CHANGE_PASSWORD, change_password::change_password),
            endpoint(op::AUTH_REQUEST_PASSWORD_RESET, password_reset::request),
            endpoint(op::AUTH_RESET_PASSWORD, password_reset::reset),
            endpoint(op::AUTH_RESEND_VERIFICATION, resend_verification::resend),
            endpoint(op::AUTH_SESSIONS_LIST, sessions_list::list),
            endpoint(op::AUTH_SESSIONS_REVOKE, sessions_revoke::revoke),
            endpoint(op::AUTH_INTROSPECT, introspect::introspect),
            endpoint(op::AUTH_ACCEPT_INVITE, accept_invite::accept_invite),
        ],
    }
}
