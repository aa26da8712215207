//! The auth worker (`olympus-auth`): logins, sessions and tokens.
//!
//! # Layout
//! - one module per operation: [`register`], [`login`], [`me`], [`refresh`],
//!   [`logout`], [`logout_all`], [`sessions_list`], [`sessions_revoke`],
//!   [`change_password`], [`password_reset`] (request and reset),
//!   [`resend_verification`], [`introspect`], [`verification`]
//!   (`verify_email`, and issuing the token), [`update_me`],
//!   [`accept_invite`], [`jwks`], [`login_mfa`], [`change_email`] (and
//!   `confirm_email_change`), [`export_me`], [`delete_me`];
//! - [`mfa`]: TOTP and recovery codes, the login's challenge, and the
//!   `mfa.*` operations;
//! - [`keys`]: the signing keys (made, sealed, opened, moved through their
//!   states) and the [`keys::Signer`], the only thing that signs access
//!   tokens ([`tokens`]);
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
pub mod change_email;
pub mod change_password;
pub mod delete_me;
pub mod email;
pub mod export_me;
pub mod hashing;
pub mod introspect;
pub mod invitations;
pub mod jwks;
pub mod keys;
pub mod lockout;
pub mod login;
pub mod login_mfa;
pub mod logout;
pub mod logout_all;
pub mod me;
pub mod members;
pub mod mfa;
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
use olympus_runtime::outbox::Prune;
use olympus_runtime::{endpoint, Config, Worker};
use std::time::Duration;

/// Where revocations are read (`olympus_runtime::revocation::Sources`):
/// sessions revoked after `$1`.
pub const REVOKED_SESSIONS: &str = "SELECT id, revoked_at FROM sessions WHERE revoked_at > $1";

/// What the relay prunes of the auth worker's tables: sessions ended
/// (revoked or expired) longer than `OLYMPUS_SESSION_RETENTION` ago, with
/// their rotated refresh tokens (`ON DELETE CASCADE`; kept longer than an
/// access token lives, since a process starting later learns of
/// revocations from them), failed logins per address older than a day
/// (the limit looks back a minute), and MFA challenges, TOTP enrollments
/// and email changes a day after they expired.
pub fn housekeeping(config: &Config) -> Vec<Prune> {
    vec![
        Prune {
            what: "ended sessions",
            statement: "DELETE FROM sessions
                         WHERE least(revoked_at, expires_at) < now() - make_interval(secs => $1)",
            retention: config.session_retention(),
        },
        Prune {
            what: "failed logins per address",
            statement: "DELETE FROM login_failures
                         WHERE failed_at < now() - make_interval(secs => $1)",
            retention: Duration::from_secs(24 * 3600),
        },
        Prune {
            what: "expired MFA challenges",
            statement: "DELETE FROM mfa_challenges
                         WHERE expires_at < now() - make_interval(secs => $1)",
            retention: Duration::from_secs(24 * 3600),
        },
        Prune {
            what: "expired TOTP enrollments",
            statement: "DELETE FROM totp_enrollments
                         WHERE expires_at < now() - make_interval(secs => $1)",
            retention: Duration::from_secs(24 * 3600),
        },
        Prune {
            what: "expired email changes",
            statement: "DELETE FROM email_changes
                         WHERE expires_at < now() - make_interval(secs => $1)",
            retention: Duration::from_secs(24 * 3600),
        },
    ]
}

/// The auth worker and its endpoints.
pub fn worker() -> Worker {
    Worker {
        service: Service::Auth,
        version: env!("CARGO_PKG_VERSION"),
        description: "Olympus authentication: logins, sessions and tokens",
        endpoints: vec![
            endpoint(op::AuthRegister, register::register),
            endpoint(op::AuthLogin, login::login),
            endpoint(op::AuthRefresh, refresh::refresh),
            endpoint(op::AuthLogout, logout::logout),
            endpoint(op::AuthLogoutAll, logout_all::logout_all),
            endpoint(op::AuthMe, me::me),
            endpoint(op::AuthUpdateMe, update_me::update_me),
            endpoint(op::AuthVerifyEmail, verification::verify_email),
            endpoint(op::AuthChangePassword, change_password::change_password),
            endpoint(op::AuthRequestPasswordReset, password_reset::request),
            endpoint(op::AuthResetPassword, password_reset::reset),
            endpoint(op::AuthResendVerification, resend_verification::resend),
            endpoint(op::AuthSessionsList, sessions_list::list),
            endpoint(op::AuthSessionsRevoke, sessions_revoke::revoke),
            endpoint(op::AuthIntrospect, introspect::introspect),
            endpoint(op::AuthAcceptInvite, accept_invite::accept_invite),
            endpoint(op::AuthLoginMfa, login_mfa::login_mfa),
            endpoint(op::AuthJwks, jwks::jwks),
            endpoint(op::AuthMfaStatus, mfa::status::status),
            endpoint(op::AuthMfaTotpEnroll, mfa::enroll::enroll),
            endpoint(op::AuthMfaTotpConfirm, mfa::enroll::confirm),
            endpoint(op::AuthMfaDisable, mfa::disable::disable),
            endpoint(
                op::AuthMfaRecoveryCodesRegenerate,
                mfa::regenerate::regenerate,
            ),
            endpoint(op::AuthChangeEmail, change_email::change_email),
            endpoint(op::AuthConfirmEmailChange, change_email::confirm),
            endpoint(op::AuthExportMe, export_me::export_me),
            endpoint(op::AuthDeleteMe, delete_me::delete_me),
        ],
        prepare: Some(|app| Box::pin(keys::prepare(app))),
    }
}
