//! Requests and replies of the auth service (`{prefix}.auth.v1.*`).

use serde::{Deserialize, Serialize};

use crate::shapes::{Tokens, User};
use crate::Secret;

/// `auth.login` (P).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// The tenant's slug.
    pub tenant: String,
    pub email: String,
    pub password: Secret,
}

/// Reply of `auth.login` and `auth.register`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionReply {
    pub user: User,
    pub tokens: Tokens,
}

/// `auth.refresh` (P).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    pub refresh_token: Secret,
}

/// Reply of `auth.refresh`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RefreshReply {
    pub tokens: Tokens,
}

/// `auth.logout` (P): revokes the session of the refresh token.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogoutRequest {
    pub refresh_token: Secret,
}

/// Reply of `auth.me` and `auth.verify_email`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserReply {
    pub user: User,
}

/// `auth.verify_email` (P).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifyEmailRequest {
    pub token: Secret,
}
