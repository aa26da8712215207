//! The catalog of operations (contract §5), each declared once with its
//! subject, who may call it, its idempotency and its request and reply
//! types ([`Op`]).

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

    /// Whether a token of a login without a second factor reaches it in a
    /// tenant that requires MFA (contract §5, revision 3): `auth.me`,
    /// `auth.mfa.*`, `auth.logout` and `auth.logout_all`, so that the
    /// member can enroll; and every public operation, which takes no token.
    pub fn reachable_without_mfa(&self) -> bool {
        self.access() == Access::Public
            || (self.service == Service::Auth
                && (matches!(self.name, "me" | "logout" | "logout_all")
                    || self.name.starts_with("mfa.")))
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

/// An operation of the contract, declared once (in [`operations!`]): its
/// subject, who may call it, whether it takes an `Idempotency-Key`, and the
/// types of its request and reply. The runtime registers a handler for it
/// only with exactly these types (`olympus_runtime::endpoint`), and the
/// spec, the AsyncAPI and OpenAPI documents and the gateway's routes derive
/// from it: nothing else lists an operation.
pub trait Op: Send + Sync + 'static {
    /// Subject, access and idempotency.
    const OPERATION: Operation;
    /// What the caller sends.
    type Request: serde::de::DeserializeOwned + Serialize + schemars::JsonSchema + Send + 'static;
    /// What a success answers.
    type Reply: Serialize + schemars::JsonSchema + Send + 'static;
}

/// Declares each operation of the contract: a type implementing [`Op`]
/// (named after the operation, e.g. `AuthLogin`), its [`Operation`] as a
/// constant (`AUTH_LOGIN`), [`ALL`] in the contract's order, and the
/// function the spec names every request and reply schema with.
macro_rules! operations {
    ($(
        $(#[$doc:meta])*
        $name:ident / $constant:ident: $service:ident $subject:literal,
            $who:ident, $idempotent:literal, $request:ty => $reply:ty;
    )*) => {
        $(
            $(#[$doc])*
            #[derive(Debug, Clone, Copy)]
            pub struct $name;

            impl Op for $name {
                const OPERATION: Operation = op($service, $subject, $who, $idempotent);
                type Request = $request;
                type Reply = $reply;
            }

            #[doc = concat!("The operation `", $subject, "` of [`", stringify!($name), "`].")]
            pub const $constant: Operation = <$name as Op>::OPERATION;
        )*

        /// Every operation of contract v1, in the contract's order.
        pub const ALL: &[Operation] = &[$($constant),*];

        /// Calls `visit` with each operation and the schema names of its
        /// request and reply, registering them (and what they use) with
        /// `generator`.
        pub(crate) fn schemas(
            generator: &mut schemars::SchemaGenerator,
            mut visit: impl FnMut(Operation, String, String),
        ) {
            $(
                visit(
                    $constant,
                    schema_name::<$request>(generator),
                    schema_name::<$reply>(generator),
                );
            )*
        }
    };
}

/// The name `T`'s schema has in the spec's `schemas`.
fn schema_name<T: schemars::JsonSchema>(generator: &mut schemars::SchemaGenerator) -> String {
    let reference = generator.subschema_for::<T>();
    reference
        .get("$ref")
        .and_then(|r| r.as_str())
        .and_then(|r| r.rsplit('/').next())
        .map_or_else(|| T::schema_name().into_owned(), str::to_owned)
}

use crate::auth::*;
use crate::commerce::*;
use crate::shapes::{Empty, Invitation, Page, PageRequest, User};
use crate::tenant::*;
use Service::{Auth, Commerce, Tenant};
use Who::{Admin as A, Anyone as P, Member as B, Owner as O, PlatformAdmin as PA};

operations! {
    AuthRegister / AUTH_REGISTER: Auth "register", P, false, RegisterRequest => SessionReply;
    AuthLogin / AUTH_LOGIN: Auth "login", P, false, LoginRequest => LoginReply;
    AuthRefresh / AUTH_REFRESH: Auth "refresh", P, false, RefreshRequest => RefreshReply;
    AuthLogout / AUTH_LOGOUT: Auth "logout", P, false, LogoutRequest => Empty;
    AuthLogoutAll / AUTH_LOGOUT_ALL: Auth "logout_all", B, false, Empty => LogoutAllReply;
    AuthMe / AUTH_ME: Auth "me", B, false, Empty => UserReply;
    AuthUpdateMe / AUTH_UPDATE_ME: Auth "update_me", B, false, UpdateMeRequest => UserReply;
    AuthVerifyEmail / AUTH_VERIFY_EMAIL: Auth "verify_email", P, false,
        VerifyEmailRequest => UserReply;
    AuthResendVerification / AUTH_RESEND_VERIFICATION: Auth "resend_verification", B, false,
        Empty => Empty;
    AuthRequestPasswordReset / AUTH_REQUEST_PASSWORD_RESET: Auth "request_password_reset", P,
        false, RequestPasswordResetRequest => Empty;
    AuthResetPassword / AUTH_RESET_PASSWORD: Auth "reset_password", P, false,
        ResetPasswordRequest => Empty;
    AuthChangePassword / AUTH_CHANGE_PASSWORD: Auth "change_password", B, false,
        ChangePasswordRequest => RefreshReply;
    AuthSessionsList / AUTH_SESSIONS_LIST: Auth "sessions.list", B, false, Empty => SessionsReply;
    AuthSessionsRevoke / AUTH_SESSIONS_REVOKE: Auth "sessions.revoke", B, false,
        RevokeSessionRequest => Empty;
    AuthIntrospect / AUTH_INTROSPECT: Auth "introspect", P, false,
        IntrospectRequest => IntrospectReply;
    AuthAcceptInvite / AUTH_ACCEPT_INVITE: Auth "accept_invite", P, false,
        AcceptInviteRequest => SessionReply;
    AuthLoginMfa / AUTH_LOGIN_MFA: Auth "login_mfa", P, false, LoginMfaRequest => SessionReply;
    AuthJwks / AUTH_JWKS: Auth "jwks", P, false, Empty => JwksReply;
    AuthMfaStatus / AUTH_MFA_STATUS: Auth "mfa.status", B, false, Empty => MfaStatusReply;
    AuthMfaTotpEnroll / AUTH_MFA_TOTP_ENROLL: Auth "mfa.totp.enroll", B, false,
        Empty => TotpEnrollReply;
    AuthMfaTotpConfirm / AUTH_MFA_TOTP_CONFIRM: Auth "mfa.totp.confirm", B, false,
        TotpConfirmRequest => RecoveryCodesReply;
    AuthMfaDisable / AUTH_MFA_DISABLE: Auth "mfa.disable", B, false, MfaDisableRequest => Empty;
    AuthMfaRecoveryCodesRegenerate / AUTH_MFA_RECOVERY_CODES_REGENERATE:
        Auth "mfa.recovery_codes.regenerate", B, false,
        RegenerateRecoveryCodesRequest => RecoveryCodesReply;
    AuthChangeEmail / AUTH_CHANGE_EMAIL: Auth "change_email", B, false,
        ChangeEmailRequest => Empty;
    AuthConfirmEmailChange / AUTH_CONFIRM_EMAIL_CHANGE: Auth "confirm_email_change", P, false,
        ConfirmEmailChangeRequest => UserReply;
    AuthDeleteMe / AUTH_DELETE_ME: Auth "delete_me", B, false, DeleteMeRequest => Empty;
    AuthExportMe / AUTH_EXPORT_ME: Auth "export_me", B, false, Empty => ExportMeReply;

    TenantCreate / TENANT_CREATE: Tenant "create", P, false,
        CreateTenantRequest => CreateTenantReply;
    TenantGet / TENANT_GET: Tenant "get", B, false, GetTenantRequest => TenantReply;
    TenantUpdate / TENANT_UPDATE: Tenant "update", A, false, UpdateTenantRequest => TenantReply;
    TenantMembersList / TENANT_MEMBERS_LIST: Tenant "members.list", A, false,
        PageRequest => Page<User>;
    TenantMembersSetRole / TENANT_MEMBERS_SET_ROLE: Tenant "members.set_role", O, false,
        SetRoleRequest => UserReply;
    TenantMembersRemove / TENANT_MEMBERS_REMOVE: Tenant "members.remove", A, false,
        RemoveMemberRequest => Empty;
    TenantMembersInvite / TENANT_MEMBERS_INVITE: Tenant "members.invite", A, true,
        InviteRequest => InvitationReply;
    TenantMembersInvitationsList / TENANT_MEMBERS_INVITATIONS_LIST:
        Tenant "members.invitations.list", A, false, PageRequest => Page<Invitation>;
    TenantMembersInvitationsRevoke / TENANT_MEMBERS_INVITATIONS_REVOKE:
        Tenant "members.invitations.revoke", A, false, RevokeInvitationRequest => Empty;
    TenantList / TENANT_LIST: Tenant "list", PA, false,
        ListTenantsRequest => Page<crate::shapes::Tenant>;
    TenantSuspend / TENANT_SUSPEND: Tenant "suspend", PA, false, TenantIdRequest => TenantReply;
    TenantReactivate / TENANT_REACTIVATE: Tenant "reactivate", PA, false,
        TenantIdRequest => TenantReply;
    TenantAuditList / TENANT_AUDIT_LIST: Tenant "audit.list", A, false,
        AuditListRequest => Page<crate::event::Envelope>;

    CommerceProductsCreate / COMMERCE_PRODUCTS_CREATE: Commerce "products.create", A, true,
        CreateProductRequest => ProductReply;
    CommerceProductsGet / COMMERCE_PRODUCTS_GET: Commerce "products.get", B, false,
        IdRequest => ProductReply;
    CommerceProductsList / COMMERCE_PRODUCTS_LIST: Commerce "products.list", B, false,
        ListProductsRequest => Page<Product>;
    CommerceProductsUpdate / COMMERCE_PRODUCTS_UPDATE: Commerce "products.update", A, false,
        UpdateProductRequest => ProductReply;
    CommerceInventoryAdjust / COMMERCE_INVENTORY_ADJUST: Commerce "inventory.adjust", A, true,
        AdjustInventoryRequest => ProductReply;
    CommerceProductsVariantsCreate / COMMERCE_PRODUCTS_VARIANTS_CREATE:
        Commerce "products.variants.create", A, true, CreateVariantRequest => ProductReply;
    CommerceProductsVariantsUpdate / COMMERCE_PRODUCTS_VARIANTS_UPDATE:
        Commerce "products.variants.update", A, false, UpdateVariantRequest => ProductReply;
    CommercePromotionsCreate / COMMERCE_PROMOTIONS_CREATE: Commerce "promotions.create", A, true,
        CreatePromotionRequest => PromotionReply;
    CommercePromotionsGet / COMMERCE_PROMOTIONS_GET: Commerce "promotions.get", A, false,
        IdRequest => PromotionReply;
    CommercePromotionsList / COMMERCE_PROMOTIONS_LIST: Commerce "promotions.list", A, false,
        ListPromotionsRequest => Page<Promotion>;
    CommercePromotionsUpdate / COMMERCE_PROMOTIONS_UPDATE: Commerce "promotions.update", A, false,
        UpdatePromotionRequest => PromotionReply;
    CommerceCartsCreate / COMMERCE_CARTS_CREATE: Commerce "carts.create", B, false,
        Empty => CartReply;
    CommerceCartsGet / COMMERCE_CARTS_GET: Commerce "carts.get", B, false,
        IdRequest => CartReply;
    CommerceCartsItemsSet / COMMERCE_CARTS_ITEMS_SET: Commerce "carts.items.set", B, false,
        SetCartItemRequest => CartReply;
    CommerceCartsUpdate / COMMERCE_CARTS_UPDATE: Commerce "carts.update", B, false,
        UpdateCartRequest => CartReply;
    CommerceCartsCheckout / COMMERCE_CARTS_CHECKOUT: Commerce "carts.checkout", B, true,
        CheckoutRequest => CheckoutReply;
    CommerceOrdersCreate / COMMERCE_ORDERS_CREATE: Commerce "orders.create", B, true,
        CreateOrderRequest => OrderReply;
    CommerceOrdersGet / COMMERCE_ORDERS_GET: Commerce "orders.get", B, false,
        IdRequest => OrderReply;
    CommerceOrdersList / COMMERCE_ORDERS_LIST: Commerce "orders.list", B, false,
        ListOrdersRequest => Page<Order>;
    CommerceOrdersCancel / COMMERCE_ORDERS_CANCEL: Commerce "orders.cancel", B, true,
        IdRequest => OrderReply;
    CommerceOrdersFulfill / COMMERCE_ORDERS_FULFILL: Commerce "orders.fulfill", A, true,
        IdRequest => OrderReply;
    CommercePaymentsAuthorize / COMMERCE_PAYMENTS_AUTHORIZE: Commerce "payments.authorize", B,
        true, AuthorizePaymentRequest => PaymentReply;
    CommercePaymentsCapture / COMMERCE_PAYMENTS_CAPTURE: Commerce "payments.capture", A, true,
        PaymentIdRequest => PaymentReply;
    CommercePaymentsVoid / COMMERCE_PAYMENTS_VOID: Commerce "payments.void", A, true,
        PaymentIdRequest => PaymentReply;
    CommercePaymentsRefund / COMMERCE_PAYMENTS_REFUND: Commerce "payments.refund", A, true,
        RefundPaymentRequest => PaymentReply;
}
