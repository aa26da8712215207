//! Requests and replies of the auth service (`{prefix}.auth.v1.*`).

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::shapes::{Role, Tokens, User};
use crate::Secret;

/// `auth.login` (P).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// The tenant's slug.
    pub tenant: String,
    pub email: String,
    pub password: Secret,
}

/// Reply of `auth.login`: the session, or for a user with TOTP the
/// challenge that `auth.login_mfa` answers.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum LoginReply {
    Session(SessionReply),
    MfaRequired(MfaChallenge),
}

/// Reply of `auth.login` for a user with TOTP, after the right password
/// (revision 3): no session yet; `auth.login_mfa` with `mfa_token` and a
/// code opens it.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct MfaChallenge {
    /// Always true.
    pub mfa_required: bool,
    /// Opaque, single use, dead after 5 wrong codes.
    pub mfa_token: Secret,
    /// `totp`, `recovery_code`.
    pub methods: Vec<String>,
    /// Seconds until `mfa_token` expires.
    pub expires_in: u64,
}

/// `auth.login_mfa` (P, revision 3): the second step of a login, with
/// exactly one of `code` (TOTP) and `recovery_code`. Every failure is
/// `invalid_credentials`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginMfaRequest {
    pub mfa_token: Secret,
    /// A 6-digit TOTP code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<Secret>,
    /// One of the user's recovery codes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery_code: Option<Secret>,
}

/// Reply of `auth.mfa.status` (B, revision 3).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct MfaStatusReply {
    /// Whether TOTP is on.
    pub totp: bool,
    /// Recovery codes not used yet.
    pub recovery_codes_left: u32,
}

/// Reply of `auth.mfa.totp.enroll` (B, revision 3): a new TOTP secret for
/// an authenticator app, effective once confirmed with a code
/// (`auth.mfa.totp.confirm`) within 10 minutes.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct TotpEnrollReply {
    pub enrollment_id: Uuid,
    /// 160 bits, base32 without padding (RFC 4648).
    pub secret: Secret,
    /// `otpauth://totp/...` for a QR code (SHA1, 6 digits, 30 s).
    pub otpauth_uri: Secret,
}

/// `auth.mfa.totp.confirm` (B, revision 3): turns TOTP on with a code
/// from the enrolled authenticator.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TotpConfirmRequest {
    pub enrollment_id: Uuid,
    pub code: Secret,
}

/// Reply of `auth.mfa.totp.confirm` and
/// `auth.mfa.recovery_codes.regenerate` (revision 3): ten single-use
/// recovery codes, shown only here.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct RecoveryCodesReply {
    pub recovery_codes: Vec<Secret>,
}

/// `auth.mfa.disable` (B, revision 3): the password and exactly one of
/// `code` (TOTP) and `recovery_code`. Every other session of the user is
/// revoked.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MfaDisableRequest {
    pub password: Secret,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<Secret>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery_code: Option<Secret>,
}

/// `auth.mfa.recovery_codes.regenerate` (B, revision 3): a fresh TOTP
/// code for ten new recovery codes; the old ones stop working.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RegenerateRecoveryCodesRequest {
    pub code: Secret,
}

/// Reply of `auth.register` and `auth.accept_invite`, and of `auth.login`
/// and `auth.login_mfa` when they open a session.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct SessionReply {
    pub user: User,
    pub tokens: Tokens,
}

/// `auth.refresh` (P).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    pub refresh_token: Secret,
}

/// Reply of `auth.refresh`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct RefreshReply {
    pub tokens: Tokens,
}

/// `auth.logout` (P): revokes the session of the refresh token.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LogoutRequest {
    pub refresh_token: Secret,
}

/// Reply of `auth.me` and `auth.verify_email`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct UserReply {
    pub user: User,
}

/// `auth.verify_email` (P).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyEmailRequest {
    pub token: Secret,
}

/// `auth.register` (P): joins a tenant that allows self-registration.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    /// The tenant's slug.
    pub tenant: String,
    pub email: String,
    pub password: Secret,
    #[serde(default)]
    pub display_name: Option<String>,
}

/// Reply of `auth.logout_all`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct LogoutAllReply {
    /// Sessions revoked, the caller's own included.
    pub revoked: u64,
}

/// One of the caller's live sessions.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct SessionInfo {
    pub id: Uuid,
    pub created_at: DateTime<Utc>,
    pub last_used_at: DateTime<Utc>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// The session of the access token making the request.
    pub current: bool,
}

/// Reply of `auth.sessions.list`: the caller's live sessions, newest first.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct SessionsReply {
    pub items: Vec<SessionInfo>,
}

/// `auth.sessions.revoke` (B): ends one of the caller's sessions.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RevokeSessionRequest {
    pub session_id: Uuid,
}

/// `auth.change_password` (B): every other session ends; the reply carries
/// the tokens of a fresh one.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePasswordRequest {
    pub current_password: Secret,
    pub new_password: Secret,
}

/// `auth.introspect` (P): what an access token stands for, now.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IntrospectRequest {
    pub access_token: Secret,
}

/// Reply of `auth.introspect` (RFC 7662's shape): only `active` when the
/// token is not (bad, expired, revoked, its member removed, or its tenant
/// suspended); `role` is the member's current role, not the token's.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct IntrospectReply {
    pub active: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tid: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
    /// Expiry, seconds since the epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    /// How the login proved who it was (RFC 8176): `["pwd"]`, `["pwd",
    /// "otp"]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amr: Option<Vec<String>>,
}

/// Reply of `auth.jwks` (P): the published signing keys (RFC 7517), from
/// which anyone verifies access tokens; newest first.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct JwksReply {
    pub keys: Vec<Jwk>,
}

/// One published signing key: an Ed25519 public key (RFC 8037).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Jwk {
    /// `OKP`.
    pub kty: String,
    /// `Ed25519`.
    pub crv: String,
    /// The public key, base64url without padding.
    pub x: String,
    /// The key id, as in the `kid` header of the tokens it signs.
    pub kid: String,
    /// `EdDSA`.
    pub alg: String,
    /// `sig`.
    #[serde(rename = "use")]
    pub use_: String,
}

impl Jwk {
    /// The JWK of the Ed25519 public key `x` (base64url) called `kid`.
    pub fn ed25519(kid: &str, x: &str) -> Self {
        Self {
            kty: "OKP".to_owned(),
            crv: "Ed25519".to_owned(),
            x: x.to_owned(),
            kid: kid.to_owned(),
            alg: "EdDSA".to_owned(),
            use_: "sig".to_owned(),
        }
    }
}

/// `auth.request_password_reset` (P): mails a reset token when the account
/// exists; the reply is `{}` either way.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RequestPasswordResetRequest {
    /// The tenant's slug.
    pub tenant: String,
    pub email: String,
}

/// `auth.reset_password` (P): a reset token from the mail and the new
/// password. Every session of the user ends; a lockout is lifted.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetPasswordRequest {
    pub token: Secret,
    pub new_password: Secret,
}

/// `auth.update_me` (B): changes the caller's own profile. An absent field
/// is left as it is; `phone: nil` removes the phone.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateMeRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// Absent: unchanged; nil: removed; a string: E.164 (`+4930123456`).
    #[serde(
        default,
        deserialize_with = "crate::codec::present",
        skip_serializing_if = "Option::is_none"
    )]
    pub phone: Option<Option<String>>,
}

/// `auth.accept_invite` (P): joins the tenant of an invitation, whose token
/// came by mail. The new member's email counts as verified.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AcceptInviteRequest {
    pub token: Secret,
    pub password: Secret,
    #[serde(default)]
    pub display_name: Option<String>,
}

/// `auth.change_email` (B, revision 3): mails a token confirming the move
/// to `new_email`, only there; nothing changes until it is confirmed.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeEmailRequest {
    pub new_email: String,
    pub password: Secret,
}

/// `auth.confirm_email_change` (P, revision 3): the token of an
/// `email_change` mail. The account moves to the new address (verified),
/// every other session of the user ends, and the old address is told.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfirmEmailChangeRequest {
    pub token: Secret,
}

/// `auth.delete_me` (B, revision 3): erases the caller's personal data in
/// this tenant, with their password and, when TOTP is on, a `code`: a
/// TOTP code or one of their recovery codes.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteMeRequest {
    pub password: Secret,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<Secret>,
}

/// One of the caller's sessions as `auth.export_me` answers it: live or
/// ended, as long as it is stored.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct ExportedSession {
    pub id: Uuid,
    pub created_at: DateTime<Utc>,
    pub last_used_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// When it was revoked; nil while it is not.
    pub revoked_at: Option<DateTime<Utc>>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// The session of the access token making the request.
    pub current: bool,
}

/// One of the caller's orders as `auth.export_me` answers it: the order
/// with its items, and its payments.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct ExportedOrder {
    #[serde(flatten)]
    pub order: crate::commerce::Order,
    pub payments: Vec<crate::commerce::Payment>,
}

/// Reply of `auth.export_me` (B, revision 3): everything the tenant stores
/// about the caller (GDPR articles 15 and 20), read in one consistent
/// snapshot. No secret: no password hash, TOTP secret, recovery code or
/// token.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct ExportMeReply {
    pub user: User,
    /// Every stored session, newest first.
    pub sessions: Vec<ExportedSession>,
    /// The orders the caller placed, oldest first.
    pub orders: Vec<ExportedOrder>,
    /// The caller's carts, oldest first, priced as they are now.
    pub carts: Vec<crate::commerce::Cart>,
    pub mfa: MfaStatusReply,
    pub exported_at: DateTime<Utc>,
}
