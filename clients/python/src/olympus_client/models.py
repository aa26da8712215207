# Generated from contracts/spec/v1.json by contracts/src/python.rs: do not edit.
# `UPDATE_SPEC=1 cargo test -p olympus-contracts` rewrites it; a test fails when it is stale.
"""The contract's types: every request, reply, shape and event `data`.

Every class is a pydantic model (`Model`); operations' replies (`Reply`)
also carry the `correlation_id` they came with. Enums are `str` enums, so they compare equal
to the wire's strings, and take values a later revision adds (`OpenEnum`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, Union
from uuid import UUID

from pydantic import Field, TypeAdapter

from ._base import Model, OpenEnum, Reply


# A secret (password, token): a plain `str` here. Keep it out of logs.
Secret = str


class AcceptInviteRequest(Model):
    """`auth.accept_invite` (P): joins the tenant of an invitation, whose token
    came by mail. The new member's email counts as verified.
    """
    password: Secret
    token: Secret
    display_name: str | None = None


class Address(Model):
    """A postal address (contract §4)."""
    city: str
    country: str
    """ISO 3166-1 alpha-2, e.g. `DE`."""
    line1: str
    name: str
    postal_code: str
    line2: str | None = None
    region: str | None = None


class AdjustInventoryRequest(Model):
    """`commerce.inventory.adjust` (owner, admin; I): adds `delta` (negative
    to remove; at most 10^9 either way) to the stock, which stays 0 to
    10^9 (`invalid_state`, `details.state` `insufficient_stock` or
    `stock_limit`, otherwise; `orders.cancel` keeps the same bound).
    """
    delta: int
    product_id: UUID | None = None
    reason: str | None = None
    variant_id: UUID | None = None
    """Revision 3: the variant whose stock changes; or `product_id`, for a
    product with one variant. Exactly one of the two.
    """


class EventType(OpenEnum):
    """Every event type of the contract. Read only from its wire name (a
    request's filter names one): not from serde's other forms of an enum,
    such as a map `{"user.registered": nil}`.
    """
    USER_REGISTERED = "user.registered"
    USER_LOGGED_IN = "user.logged_in"
    USER_LOGIN_FAILED = "user.login_failed"
    USER_LOCKED = "user.locked"
    USER_LOGGED_OUT = "user.logged_out"
    USER_EMAIL_VERIFIED = "user.email_verified"
    USER_PASSWORD_CHANGED = "user.password_changed"
    USER_UPDATED = "user.updated"
    USER_MFA_ENABLED = "user.mfa_enabled"
    USER_MFA_DISABLED = "user.mfa_disabled"
    USER_RECOVERY_CODES_REGENERATED = "user.recovery_codes_regenerated"
    USER_EMAIL_CHANGED = "user.email_changed"
    USER_DELETED = "user.deleted"
    SESSION_REVOKED = "session.revoked"
    TENANT_CREATED = "tenant.created"
    TENANT_UPDATED = "tenant.updated"
    TENANT_SUSPENDED = "tenant.suspended"
    TENANT_REACTIVATED = "tenant.reactivated"
    MEMBER_ROLE_CHANGED = "member.role_changed"
    MEMBER_REMOVED = "member.removed"
    MEMBER_INVITED = "member.invited"
    INVITATION_REVOKED = "invitation.revoked"
    PRODUCT_CREATED = "product.created"
    PRODUCT_UPDATED = "product.updated"
    INVENTORY_ADJUSTED = "inventory.adjusted"
    PRODUCT_VARIANT_CREATED = "product.variant_created"
    PRODUCT_VARIANT_UPDATED = "product.variant_updated"
    PROMOTION_CREATED = "promotion.created"
    PROMOTION_UPDATED = "promotion.updated"
    CART_CHECKED_OUT = "cart.checked_out"
    ORDER_PLACED = "order.placed"
    ORDER_CANCELLED = "order.cancelled"
    ORDER_PAID = "order.paid"
    ORDER_FULFILLED = "order.fulfilled"
    ORDER_REFUNDED = "order.refunded"
    PAYMENT_AUTHORIZED = "payment.authorized"
    PAYMENT_CAPTURED = "payment.captured"
    PAYMENT_FAILED = "payment.failed"
    PAYMENT_VOIDED = "payment.voided"
    PAYMENT_REFUNDED = "payment.refunded"


class AuditListRequest(Model):
    """`tenant.audit.list` (owner, admin; revision 3): the tenant's events,
    newest first, a page at a time; each filter narrows it.
    """
    actor_id: UUID | None = None
    """Only events by this actor."""
    cursor: str | None = None
    limit: int | None = None
    since: datetime | None = None
    """Only events that occurred at or after this time."""
    type: EventType | None = None
    """Only events of this type."""
    until: datetime | None = None
    """Only events that occurred before this time."""


class PaymentMethod(Model):
    """How a payment is made: `{type: "card", token}` (the built-in `test`
    provider knows `tok_visa` and `tok_chargeDeclined`).
    """
    token: str
    type: str
    """Always `card`."""


class AuthorizePaymentRequest(Model):
    """`commerce.payments.authorize` (any member, for their order; I)."""
    method: PaymentMethod
    order_id: UUID


class Money(Model):
    """An amount of money: minor units and an ISO 4217 code."""
    amount: int
    """In the currency's minor unit (e.g. cents), as the currency's
    exponent says (`JPY` has none, `BHD` three).
    """
    currency: str
    """ISO 4217, e.g. `EUR`."""


class CartLine(Model):
    """One line of a cart, priced as its variant is now."""
    line_total: Money
    name: str
    option_values: dict[str, str]
    product_id: UUID
    quantity: int
    sku: str
    """The variant's SKU."""
    unit_price: Money
    variant_id: UUID


class CartStatus(OpenEnum):
    """Where a cart is in its life (revision 3): `expired` is an open cart
    left 30 days without a change.
    """
    OPEN = "open"
    CHECKED_OUT = "checked_out"
    EXPIRED = "expired"


class Cart(Model):
    """A cart (revision 3): its member's alone, priced live on every read.
    An empty cart's amounts are in `XXX` (ISO 4217: no currency).
    """
    created_at: datetime
    customer_id: UUID
    discount_total: Money
    expires_at: datetime
    """30 days after `updated_at`."""
    id: UUID
    items: list[CartLine]
    """In the order they were added."""
    promotion_applies: bool
    """Whether `promotion_code` applies now (its discount is in
    `discount_total`).
    """
    status: CartStatus
    subtotal: Money
    total: Money
    """`subtotal` less `discount_total`."""
    updated_at: datetime
    billing_address: Address | None = None
    contact_phone: str | None = None
    promotion_code: str | None = None
    """Upper case, as the promotion has it."""
    shipping_address: Address | None = None


class CartCheckedOut(Model):
    """`cart.checked_out` (revision 3): a cart became the order `order_id`
    (whose `order.placed` carries its lines and totals); the cart is
    closed. No address: they are the order's.
    """
    cart_id: UUID
    customer_id: UUID
    discount_total: Money
    order_id: UUID
    subtotal: Money
    total: Money
    promotion_code: str | None = None
    """The code applied, if any."""


class CartReply(Reply):
    """Reply of the cart operations."""
    cart: Cart


class ChangeEmailRequest(Model):
    """`auth.change_email` (B, revision 3): mails a token confirming the move
    to `new_email`, only there; nothing changes until it is confirmed.
    """
    new_email: str
    password: Secret


class ChangePasswordRequest(Model):
    """`auth.change_password` (B): every other session ends; the reply carries
    the tokens of a fresh one.
    """
    current_password: Secret
    new_password: Secret


class OrderLine(Model):
    """One line of an order, priced when it was placed."""
    line_total: Money
    name: str
    product_id: UUID
    quantity: int
    sku: str
    """The variant's SKU."""
    unit_price: Money
    option_values: dict[str, str] | None = None
    """Revision 3: the variant's option values."""
    variant_id: UUID | None = None
    """Revision 3 (absent from events stored before it)."""


class OrderStatus(OpenEnum):
    """Where an order is in its life."""
    PENDING_PAYMENT = "pending_payment"
    PAID = "paid"
    FULFILLED = "fulfilled"
    CANCELLED = "cancelled"
    REFUNDED = "refunded"


class Order(Model):
    """An order."""
    created_at: datetime
    customer_id: UUID
    id: UUID
    items: list[OrderLine]
    number: int
    """The tenant's order number: 1, 2, 3, ..."""
    status: OrderStatus
    total: Money
    """`subtotal` less `discount_total`."""
    updated_at: datetime
    billing_address: Address | None = None
    cart_id: UUID | None = None
    """Revision 3: the cart it was checked out from; nil for an order of
    `orders.create`.
    """
    contact_phone: str | None = None
    discount_total: Money | None = None
    """Revision 3: what a promotion took off the subtotal (absent from
    events stored before it).
    """
    promotion_code: str | None = None
    """Revision 3: the code of the promotion applied, if any."""
    shipping_address: Address | None = None
    subtotal: Money | None = None
    """Revision 3: the lines' sum (absent from events stored before it)."""


class PaymentStatus(OpenEnum):
    """Where a payment is in its life."""
    AUTHORIZED = "authorized"
    CAPTURED = "captured"
    VOIDED = "voided"
    FAILED = "failed"
    REFUNDED = "refunded"
    PARTIALLY_REFUNDED = "partially_refunded"


class Payment(Model):
    """A payment of an order."""
    amount: Money
    captured_amount: Money
    created_at: datetime
    id: UUID
    order_id: UUID
    provider: str
    """The provider that handled it (`test`)."""
    refunded_amount: Money
    status: PaymentStatus
    failure_reason: str | None = None


class CheckoutReply(Reply):
    """Reply of `commerce.carts.checkout`: the order, and the payment when a
    method was given (`failed` when the card was declined).
    """
    order: Order
    payment: Payment | None = None


class CheckoutRequest(Model):
    """`commerce.carts.checkout` (I; revision 3): the cart becomes an order;
    with `payment_method`, its total is then authorized.
    """
    cart_id: UUID
    payment_method: PaymentMethod | None = None


class ConfirmEmailChangeRequest(Model):
    """`auth.confirm_email_change` (P, revision 3): the token of an
    `email_change` mail. The account moves to the new address (verified),
    every other session of the user ends, and the old address is told.
    """
    token: Secret


class OrderItemRequest(Model):
    """One line of an order request."""
    quantity: int
    """1 to 10,000."""
    product_id: UUID | None = None
    variant_id: UUID | None = None
    """Revision 3: the variant bought; or `product_id`, for a product with
    one variant. Exactly one of the two.
    """


class CreateOrderRequest(Model):
    """`commerce.orders.create` (any member; I): priced on the server; 1 to
    100 lines, one per variant (a second line of the same variant, or
    product, is `validation_failed` naming it).
    """
    items: list[OrderItemRequest]
    """1 to 100 lines of active variants in one currency."""
    billing_address: Address | None = None
    contact_phone: str | None = None
    """E.164."""
    shipping_address: Address | None = None


class CreateProductRequest(Model):
    """`commerce.products.create` (owner, admin; I)."""
    name: str
    price: Money
    sku: str
    description: str | None = None
    stock: int | None = None


class PromotionKind(OpenEnum):
    """How a promotion takes its discount off a subtotal (revision 3):
    `percentage`, `percent` of the subtotal rounded down to the minor unit;
    `fixed_amount`, `amount` off, never below zero.
    """
    PERCENTAGE = "percentage"
    FIXED_AMOUNT = "fixed_amount"


class CreatePromotionRequest(Model):
    """`commerce.promotions.create` (owner, admin; I; revision 3): `percent`
    for a `percentage`, `amount` for a `fixed_amount`, not the other.
    """
    code: str
    kind: PromotionKind
    amount: Money | None = None
    ends_at: datetime | None = None
    min_subtotal: Money | None = None
    per_customer_limit: int | None = None
    percent: int | None = None
    starts_at: datetime | None = None
    usage_limit: int | None = None


class TenantStatus(OpenEnum):
    """Whether a tenant's users may work."""
    ACTIVE = "active"
    SUSPENDED = "suspended"


class Tenant(Model):
    """A tenant."""
    created_at: datetime
    id: UUID
    name: str
    self_registration: bool
    """Whether anyone may `auth.register` into it; when false, users join
    only by invitation.
    """
    slug: str
    status: TenantStatus
    updated_at: datetime
    require_mfa: bool | None = None
    """Whether its members need TOTP: tokens of a login without a code
    reach only `auth.me`, `auth.mfa.*`, `auth.logout` and
    `auth.logout_all` (revision 3; absent from events stored before it).
    """


class Tokens(Model):
    """A token pair as returned by signup, login and refresh."""
    access_token: Secret
    expires_in: int
    """Seconds until the access token expires."""
    refresh_expires_in: int
    """Seconds until the refresh token expires."""
    refresh_token: Secret
    token_type: str
    """Always `Bearer`."""


class Role(OpenEnum):
    """A member's role within a tenant."""
    OWNER = "owner"
    ADMIN = "admin"
    MEMBER = "member"


class User(Model):
    """A user of a tenant."""
    created_at: datetime
    display_name: str
    email: str
    """In its normal form: trimmed, NFKC-normalized, lower-cased, the
    domain by UTS-46 in its Unicode form; every spelling that normalizes
    to it names this user.
    """
    email_verified: bool
    id: UUID
    role: Role
    tenant_id: UUID
    updated_at: datetime
    last_login_at: datetime | None = None
    mfa_enabled: bool | None = None
    """Whether the user confirmed a TOTP authenticator: their logins ask
    for a code (revision 3; absent from events stored before it).
    """
    phone: str | None = None
    """E.164 (`+4930123456`), when the user gave one."""


class CreateTenantReply(Reply):
    """Reply of `tenant.create`."""
    owner: User
    tenant: Tenant
    tokens: Tokens


class NewOwner(Model):
    """The owner created with a tenant."""
    email: str
    password: Secret
    display_name: str | None = None


class CreateTenantRequest(Model):
    """`tenant.create` (P): a tenant and its owner, in one transaction."""
    name: str
    owner: NewOwner
    slug: str
    """3-63 chars of `[a-z0-9-]`, not starting or ending with `-`."""


class CreateVariantRequest(Model):
    """`commerce.products.variants.create` (owner, admin; I; revision 3): adds
    a variant with its option values (1 to 3 options, names and values of 1
    to 40 characters, at most 20 values per option; the same option names
    as the product's other variants with options), its own SKU, a price in
    the product's currency, and stock.
    """
    option_values: dict[str, str]
    price: Money
    product_id: UUID
    sku: str
    stock: int | None = None


class DeleteMeRequest(Model):
    """`auth.delete_me` (B, revision 3): erases the caller's personal data in
    this tenant, with their password and, when TOTP is on, a `code`: a
    TOTP code or one of their recovery codes.
    """
    password: Secret
    code: Secret | None = None


class Empty(Reply):
    """The empty request or reply `{}`."""


class Envelope(Model):
    """The envelope of every event on `{prefix}.events.{tenant_id}.{type}`."""
    correlation_id: str
    data: Any
    """The type's shape: see [`data`] and `spec/v1.json`'s `event_data`."""
    id: UUID
    """UUIDv7 whose time is `occurred_at`'s millisecond ([`event_id`]);
    also the `Nats-Msg-Id` header.
    """
    occurred_at: datetime
    schema_version: int
    tenant_id: UUID
    type: EventType
    actor_id: UUID | None = None


class ErrorCode(OpenEnum):
    """Every error code of the contract. The wire form is the snake_case name."""
    BAD_REQUEST = "bad_request"
    UNAUTHENTICATED = "unauthenticated"
    INVALID_CREDENTIALS = "invalid_credentials"
    INVALID_TOKEN = "invalid_token"
    FORBIDDEN = "forbidden"
    NOT_FOUND = "not_found"
    CONFLICT = "conflict"
    INVALID_STATE = "invalid_state"
    INSUFFICIENT_STOCK = "insufficient_stock"
    IDEMPOTENCY_KEY_IN_USE = "idempotency_key_in_use"
    PAYLOAD_TOO_LARGE = "payload_too_large"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    IDEMPOTENCY_KEY_REUSED = "idempotency_key_reused"
    VALIDATION_FAILED = "validation_failed"
    RATE_LIMITED = "rate_limited"
    INTERNAL = "internal"
    UNAVAILABLE = "unavailable"


class ErrorBody(Model):
    """The body of every error reply."""
    code: ErrorCode
    correlation_id: str
    message: str
    details: dict[str, Any] | None = None


class EventUser(Model):
    """A user as events carry it: the fields of a [`User`], the personal ones
    (`email`, `display_name`, `phone`) absent from the stored events of a
    user who was erased (`auth.delete_me`, revision 3). Events already
    published keep what they carried.
    """
    created_at: datetime
    email_verified: bool
    id: UUID
    role: Role
    tenant_id: UUID
    updated_at: datetime
    display_name: str | None = None
    """Absent once the user was erased."""
    email: str | None = None
    """In its normal form; absent once the user was erased."""
    last_login_at: datetime | None = None
    mfa_enabled: bool | None = None
    """Revision 3; absent from events stored before it."""
    phone: str | None = None
    """E.164, when the user gave one; absent once the user was erased."""


class ExportedOrder(Model):
    """One of the caller's orders as `auth.export_me` answers it: the order
    with its items, and its payments.
    """
    created_at: datetime
    customer_id: UUID
    id: UUID
    items: list[OrderLine]
    number: int
    """The tenant's order number: 1, 2, 3, ..."""
    payments: list[Payment]
    status: OrderStatus
    total: Money
    """`subtotal` less `discount_total`."""
    updated_at: datetime
    billing_address: Address | None = None
    cart_id: UUID | None = None
    """Revision 3: the cart it was checked out from; nil for an order of
    `orders.create`.
    """
    contact_phone: str | None = None
    discount_total: Money | None = None
    """Revision 3: what a promotion took off the subtotal (absent from
    events stored before it).
    """
    promotion_code: str | None = None
    """Revision 3: the code of the promotion applied, if any."""
    shipping_address: Address | None = None
    subtotal: Money | None = None
    """Revision 3: the lines' sum (absent from events stored before it)."""


class ExportedSession(Model):
    """One of the caller's sessions as `auth.export_me` answers it: live or
    ended, as long as it is stored.
    """
    created_at: datetime
    current: bool
    """The session of the access token making the request."""
    expires_at: datetime
    id: UUID
    last_used_at: datetime
    ip: str | None = None
    revoked_at: datetime | None = None
    """When it was revoked; nil while it is not."""
    user_agent: str | None = None


class MfaStatusReply(Reply):
    """Reply of `auth.mfa.status` (B, revision 3)."""
    recovery_codes_left: int
    """Recovery codes not used yet."""
    totp: bool
    """Whether TOTP is on."""


class ExportMeReply(Reply):
    """Reply of `auth.export_me` (B, revision 3): everything the tenant stores
    about the caller (GDPR articles 15 and 20), read in one consistent
    snapshot. No secret: no password hash, TOTP secret, recovery code or
    token.
    """
    carts: list[Cart]
    """The caller's carts, oldest first, priced as they are now."""
    exported_at: datetime
    mfa: MfaStatusReply
    orders: list[ExportedOrder]
    """The orders the caller placed, oldest first."""
    sessions: list[ExportedSession]
    """Every stored session, newest first."""
    user: User


class GetTenantRequest(Model):
    """`tenant.get` (B): the caller's own tenant when `id` is absent."""
    id: UUID | None = None


class IdRequest(Model):
    """`commerce.products.get`, `commerce.orders.get`, `orders.cancel`,
    `orders.fulfill`: one resource by id.
    """
    id: UUID


class IntrospectReply(Reply):
    """Reply of `auth.introspect` (RFC 7662's shape): only `active` when the
    token is not (bad, expired, revoked, its member removed, or its tenant
    suspended); `role` is the member's current role, not the token's.
    """
    active: bool
    amr: list[str] | None = None
    """How the login proved who it was (RFC 8176): `["pwd"]`, `["pwd",
    "otp"]`.
    """
    exp: int | None = None
    """Expiry, seconds since the epoch."""
    role: Role | None = None
    sid: UUID | None = None
    sub: UUID | None = None
    tid: UUID | None = None


class IntrospectRequest(Model):
    """`auth.introspect` (P): what an access token stands for, now."""
    access_token: Secret


class InventoryAdjusted(Model):
    """`inventory.adjusted`: stock changed by hand (orders reserve and release
    stock without this event; their own events say so).
    """
    delta: int
    product_id: UUID
    sku: str
    """The variant's SKU."""
    stock: int
    """The stock after the change."""
    reason: str | None = None
    variant_id: UUID | None = None
    """Revision 3: the variant whose stock changed (absent from events
    stored before it).
    """


class Invitation(Model):
    """A pending invitation to join a tenant (`tenant.members.invite`)."""
    created_at: datetime
    email: str
    expires_at: datetime
    id: UUID
    role: Role
    """`admin` or `member`."""


class InvitationReply(Reply):
    """Reply of `tenant.members.invite`."""
    invitation: Invitation


class InvitationRevoked(Model):
    """`invitation.revoked` (revision 3): a pending invitation was revoked; its
    token stopped working.
    """
    invitation_id: UUID
    role: Role
    email: str | None = None
    """The invited address; absent from the stored events of a user of
    that address who was erased.
    """


class InviteRequest(Model):
    """`tenant.members.invite` (owner, admin; only owners invite admins)."""
    email: str
    role: Role
    """`admin` or `member`."""


class Jwk(Model):
    """One published signing key: an Ed25519 public key (RFC 8037)."""
    alg: str
    """`EdDSA`."""
    crv: str
    """`Ed25519`."""
    kid: str
    """The key id, as in the `kid` header of the tokens it signs."""
    kty: str
    """`OKP`."""
    use: str
    """`sig`."""
    x: str
    """The public key, base64url without padding."""


class JwksReply(Reply):
    """Reply of `auth.jwks` (P): the published signing keys (RFC 7517), from
    which anyone verifies access tokens; newest first.
    """
    keys: list[Jwk]


class ListOrdersRequest(Model):
    """`commerce.orders.list`: members see their own orders, owners and admins
    all of the tenant's.
    """
    cursor: str | None = None
    limit: int | None = None
    status: OrderStatus | None = None


class ProductStatus(OpenEnum):
    """Whether a product can be ordered."""
    ACTIVE = "active"
    ARCHIVED = "archived"


class ListProductsRequest(Model):
    """`commerce.products.list`: a page, optionally of one status, optionally
    matching `q` in name or SKU (case-insensitive).
    """
    cursor: str | None = None
    limit: int | None = None
    q: str | None = None
    status: ProductStatus | None = None


class PromotionStatus(OpenEnum):
    """Whether a promotion's code may be used (revision 3)."""
    ACTIVE = "active"
    DISABLED = "disabled"


class ListPromotionsRequest(Model):
    """`commerce.promotions.list` (owner, admin; revision 3): a page, newest
    last, optionally of one status.
    """
    cursor: str | None = None
    limit: int | None = None
    status: PromotionStatus | None = None


class ListTenantsRequest(Model):
    """`tenant.list` (platform admin): a page of tenants, optionally of one
    status.
    """
    cursor: str | None = None
    limit: int | None = None
    status: TenantStatus | None = None


class LoginFailure(OpenEnum):
    """Why a login failed, for the tenant's eyes only (the caller always gets
    the same `invalid_credentials`).
    """
    UNKNOWN_USER = "unknown_user"
    WRONG_PASSWORD = "wrong_password"
    TENANT_SUSPENDED = "tenant_suspended"
    LOCKED = "locked"
    WRONG_CODE = "wrong_code"


class LoginMfaRequest(Model):
    """`auth.login_mfa` (P, revision 3): the second step of a login, with
    exactly one of `code` (TOTP) and `recovery_code`. Every failure is
    `invalid_credentials`.
    """
    mfa_token: Secret
    code: Secret | None = None
    """A 6-digit TOTP code."""
    recovery_code: Secret | None = None
    """One of the user's recovery codes."""


class MfaChallenge(Reply):
    """Reply of `auth.login` for a user with TOTP, after the right password
    (revision 3): no session yet; `auth.login_mfa` with `mfa_token` and a
    code opens it.
    """
    expires_in: int
    """Seconds until `mfa_token` expires."""
    methods: list[str]
    """`totp`, `recovery_code`."""
    mfa_required: bool
    """Always true."""
    mfa_token: Secret
    """Opaque, single use, dead after 5 wrong codes."""


class SessionReply(Reply):
    """Reply of `auth.register` and `auth.accept_invite`, and of `auth.login`
    and `auth.login_mfa` when they open a session.
    """
    tokens: Tokens
    user: User

# Reply of `auth.login`: the session, or for a user with TOTP the
# challenge that `auth.login_mfa` answers.
LoginReply = SessionReply | MfaChallenge
LoginReplyAdapter: TypeAdapter[LoginReply] = TypeAdapter(LoginReply)


class LoginRequest(Model):
    """`auth.login` (P)."""
    email: str
    password: Secret
    tenant: str
    """The tenant's slug."""


class LogoutAllReply(Reply):
    """Reply of `auth.logout_all`."""
    revoked: int
    """Sessions revoked, the caller's own included."""


class LogoutRequest(Model):
    """`auth.logout` (P): revokes the session of the refresh token."""
    refresh_token: Secret


class MailTemplate(OpenEnum):
    """Mail templates (`{prefix}.mail.{tenant_id}.{template}`)."""
    VERIFY_EMAIL = "verify_email"
    PASSWORD_RESET = "password_reset"
    INVITE = "invite"
    EMAIL_CHANGE = "email_change"
    EMAIL_CHANGED = "email_changed"


class Mail(Model):
    """A message for the mailer on the mail stream; the only place a
    verification or reset token travels.
    """
    correlation_id: str
    id: UUID
    template: MailTemplate
    tenant_id: UUID
    to: str
    expires_at: datetime | None = None
    """When `token` stops working; absent with it."""
    token: Secret | None = None
    """Absent from notices (`email_changed`)."""
    user_id: UUID | None = None
    """The user the mail is about; nil for an invitation."""


class MemberInvited(Model):
    """`member.invited`: an invitation was mailed (the token is only in the
    mail).
    """
    expires_at: datetime
    invitation_id: UUID
    role: Role
    email: str | None = None
    """The invited address; absent from the stored events of a user of
    that address who was erased.
    """


class MemberRemoved(Model):
    """`member.removed`: a member left the tenant; their sessions ended."""
    user_id: UUID
    email: str | None = None
    """Absent from the stored events of a user who was erased."""


class MemberRoleChanged(Model):
    """`member.role_changed`: an owner changed a member's role."""
    from_: Role = Field(alias="from")
    to: Role
    user_id: UUID


class MfaDisableRequest(Model):
    """`auth.mfa.disable` (B, revision 3): the password and exactly one of
    `code` (TOTP) and `recovery_code`. Every other session of the user is
    revoked.
    """
    password: Secret
    code: Secret | None = None
    recovery_code: Secret | None = None


class OrderCancelled(Model):
    """`order.cancelled`: its stock is released."""
    order: Order


class OrderFulfilled(Model):
    """`order.fulfilled`."""
    order: Order


class OrderPaid(Model):
    """`order.paid`: its payment was captured."""
    order: Order
    payment_id: UUID


class OrderPlaced(Model):
    """`order.placed`: an order with its lines; their stock is reserved."""
    order: Order


class OrderRefunded(Model):
    """`order.refunded`: its payment was refunded in full."""
    order: Order
    payment_id: UUID


class OrderReply(Reply):
    """Reply of the order operations."""
    order: Order


class PageOfEnvelope(Reply):
    """A page of a list: `{items, next_cursor}`; `next_cursor` is nil on the
    last page.
    """
    items: list[Envelope]
    next_cursor: str | None = None


class PageOfInvitation(Reply):
    """A page of a list: `{items, next_cursor}`; `next_cursor` is nil on the
    last page.
    """
    items: list[Invitation]
    next_cursor: str | None = None


class PageOfOrder(Reply):
    """A page of a list: `{items, next_cursor}`; `next_cursor` is nil on the
    last page.
    """
    items: list[Order]
    next_cursor: str | None = None


class ProductOption(Model):
    """An option of a product's variants (revision 3): its name and the values
    in use.
    """
    name: str
    values: list[str]


class Variant(Model):
    """One variant of a product (revision 3): what an order line or a cart
    line buys, with its own SKU, price and stock.
    """
    id: UUID
    option_values: dict[str, str]
    price: Money
    sku: str
    """Unique within the tenant, across products and variants."""
    status: ProductStatus
    """An archived variant (or any variant of an archived product) cannot
    be ordered.
    """
    stock: int
    """Units in stock, never below zero."""


class Product(Model):
    """A product of the tenant's catalog."""
    created_at: datetime
    description: str
    id: UUID
    name: str
    price: Money
    """The first variant's."""
    sku: str
    """Unique within the tenant, across products and variants: the first
    variant's.
    """
    status: ProductStatus
    stock: int
    """Units in stock of the first variant, never below zero."""
    updated_at: datetime
    options: list[ProductOption] | None = None
    """Revision 3: the option names the variants use, with the values in
    use, in the order the variants first use them.
    """
    variants: list[Variant] | None = None
    """Revision 3: 1 to 100, the first (made by `products.create`, with the
    product's id, SKU, price and stock, and no option values) first,
    then in the order they were added. Absent from events stored before
    revision 3.
    """


class PageOfProduct(Reply):
    """A page of a list: `{items, next_cursor}`; `next_cursor` is nil on the
    last page.
    """
    items: list[Product]
    next_cursor: str | None = None


class Promotion(Model):
    """A promotion (revision 3): a code that takes a percentage or a fixed
    amount off a cart's subtotal, within its dates, limits and minimum.
    """
    code: str
    """3 to 32 characters of `A-Z`, `0-9` and `-`, upper case; matched
    case-insensitively, unique per tenant.
    """
    created_at: datetime
    id: UUID
    kind: PromotionKind
    status: PromotionStatus
    times_used: int
    """Orders that use it now (a cancelled order gives its use back)."""
    updated_at: datetime
    amount: Money | None = None
    """For `fixed_amount`."""
    ends_at: datetime | None = None
    min_subtotal: Money | None = None
    """The least subtotal it applies to."""
    per_customer_limit: int | None = None
    """Uses per customer, never exceeded."""
    percent: int | None = None
    """1 to 100, for `percentage`."""
    starts_at: datetime | None = None
    usage_limit: int | None = None
    """Uses in all, never exceeded."""


class PageOfPromotion(Reply):
    """A page of a list: `{items, next_cursor}`; `next_cursor` is nil on the
    last page.
    """
    items: list[Promotion]
    next_cursor: str | None = None


class PageOfTenant(Reply):
    """A page of a list: `{items, next_cursor}`; `next_cursor` is nil on the
    last page.
    """
    items: list[Tenant]
    next_cursor: str | None = None


class PageOfUser(Reply):
    """A page of a list: `{items, next_cursor}`; `next_cursor` is nil on the
    last page.
    """
    items: list[User]
    next_cursor: str | None = None


class PageRequest(Model):
    """The page request of every list operation: `{limit?: 1..100 (default
    20), cursor?}`. A cursor is the `next_cursor` of the previous page of
    the same operation, tenant and filter; anything else is `bad_request`.
    """
    cursor: str | None = None
    limit: int | None = None


class PasswordChange(OpenEnum):
    """How a password changed."""
    CHANGED = "changed"
    RESET = "reset"


class PaymentAuthorized(Model):
    """`payment.authorized`."""
    payment: Payment


class PaymentCaptured(Model):
    """`payment.captured`."""
    payment: Payment


class PaymentFailed(Model):
    """`payment.failed`: the provider declined it (`failure_reason`)."""
    payment: Payment


class PaymentIdRequest(Model):
    """`commerce.payments.capture` and `payments.void` (owner, admin; I)."""
    payment_id: UUID


class PaymentRefunded(Model):
    """`payment.refunded`: `amount` went back; the payment shows the total."""
    amount: Money
    payment: Payment


class PaymentReply(Reply):
    """Reply of the payment operations."""
    payment: Payment


class PaymentVoided(Model):
    """`payment.voided`: an authorization released without a capture."""
    payment: Payment


class ProductCreated(Model):
    """`product.created`."""
    product: Product


class ProductReply(Reply):
    """Reply of the product operations."""
    product: Product


class ProductUpdated(Model):
    """`product.updated`: the product as it is now."""
    product: Product


class ProductVariantCreated(Model):
    """`product.variant_created` (revision 3): a variant was added
    (`products.variants.create`).
    """
    product_id: UUID
    variant: Variant


class ProductVariantUpdated(Model):
    """`product.variant_updated` (revision 3): a variant's price or status
    changed (`products.variants.update`; a product's price, which is its
    first variant's, changes by `products.update`, as `product.updated`).
    """
    product_id: UUID
    variant: Variant


class PromotionCreated(Model):
    """`promotion.created` (revision 3): a promotion's code exists
    (`promotions.create`).
    """
    promotion: Promotion


class PromotionReply(Reply):
    """Reply of the promotion operations."""
    promotion: Promotion


class PromotionUpdated(Model):
    """`promotion.updated` (revision 3): a promotion's status, end or usage
    limit changed (`promotions.update`).
    """
    promotion: Promotion


class RecoveryCodesReply(Reply):
    """Reply of `auth.mfa.totp.confirm` and
    `auth.mfa.recovery_codes.regenerate` (revision 3): ten single-use
    recovery codes, shown only here.
    """
    recovery_codes: list[Secret]


class RefreshReply(Reply):
    """Reply of `auth.refresh`."""
    tokens: Tokens


class RefreshRequest(Model):
    """`auth.refresh` (P)."""
    refresh_token: Secret


class RefundPaymentRequest(Model):
    """`commerce.payments.refund` (owner, admin; I): all that is left of the
    capture when `amount` is absent.
    """
    payment_id: UUID
    amount: Money | None = None


class RegenerateRecoveryCodesRequest(Model):
    """`auth.mfa.recovery_codes.regenerate` (B, revision 3): a fresh TOTP
    code for ten new recovery codes; the old ones stop working.
    """
    code: Secret


class RegisterRequest(Model):
    """`auth.register` (P): joins a tenant that allows self-registration."""
    email: str
    password: Secret
    tenant: str
    """The tenant's slug."""
    display_name: str | None = None


class RemoveMemberRequest(Model):
    """`tenant.members.remove` (owner, admin): the member's sessions end."""
    user_id: UUID


class RequestPasswordResetRequest(Model):
    """`auth.request_password_reset` (P): mails a reset token when the account
    exists; the reply is `{}` either way.
    """
    email: str
    tenant: str
    """The tenant's slug."""


class ResetPasswordRequest(Model):
    """`auth.reset_password` (P): a reset token from the mail and the new
    password. Every session of the user ends; a lockout is lifted.
    """
    new_password: Secret
    token: Secret


class RevocationReason(OpenEnum):
    """Why a session was revoked."""
    LOGOUT = "logout"
    REFRESH_TOKEN_REUSED = "refresh_token_reused"
    LOGOUT_ALL = "logout_all"
    REVOKED = "revoked"
    PASSWORD_CHANGED = "password_changed"
    MEMBER_REMOVED = "member_removed"
    MFA_ENABLED = "mfa_enabled"
    MFA_DISABLED = "mfa_disabled"
    EMAIL_CHANGED = "email_changed"
    USER_DELETED = "user_deleted"


class RevokeInvitationRequest(Model):
    """`tenant.members.invitations.revoke` (owner, admin)."""
    id: UUID


class RevokeSessionRequest(Model):
    """`auth.sessions.revoke` (B): ends one of the caller's sessions."""
    session_id: UUID


class SessionInfo(Model):
    """One of the caller's live sessions."""
    created_at: datetime
    current: bool
    """The session of the access token making the request."""
    id: UUID
    last_used_at: datetime
    ip: str | None = None
    user_agent: str | None = None


class SessionRevoked(Model):
    """`session.revoked`: a session's tokens stopped working."""
    reason: RevocationReason
    session_id: UUID
    user_id: UUID


class SessionsReply(Reply):
    """Reply of `auth.sessions.list`: the caller's live sessions, newest first."""
    items: list[SessionInfo]


class SetCartItemRequest(Model):
    """`commerce.carts.items.set` (revision 3): the line of `variant_id` gets
    `quantity` (1 to 10,000); 0 removes it.
    """
    cart_id: UUID
    quantity: int
    variant_id: UUID


class SetRoleRequest(Model):
    """`tenant.members.set_role` (owner)."""
    role: Role
    user_id: UUID


class TenantCreated(Model):
    """`tenant.created`: a tenant and its owner were signed up."""
    tenant: Tenant


class TenantIdRequest(Model):
    """`tenant.suspend` and `tenant.reactivate` (platform admin)."""
    id: UUID


class TenantReactivated(Model):
    """`tenant.reactivated`: a suspended tenant's users may work again."""
    tenant: Tenant


class TenantReply(Reply):
    """Reply of `tenant.get`, `tenant.update`, `tenant.suspend`, ..."""
    tenant: Tenant


class TenantSuspended(Model):
    """`tenant.suspended`: the tenant's users can no longer log in, and their
    access tokens are refused.
    """
    tenant: Tenant


class TenantUpdated(Model):
    """`tenant.updated`: the tenant's name or `self_registration` changed."""
    tenant: Tenant


class TotpConfirmRequest(Model):
    """`auth.mfa.totp.confirm` (B, revision 3): turns TOTP on with a code
    from the enrolled authenticator.
    """
    code: Secret
    enrollment_id: UUID


class TotpEnrollReply(Reply):
    """Reply of `auth.mfa.totp.enroll` (B, revision 3): a new TOTP secret for
    an authenticator app, effective once confirmed with a code
    (`auth.mfa.totp.confirm`) within 10 minutes.
    """
    enrollment_id: UUID
    otpauth_uri: Secret
    """`otpauth://totp/...` for a QR code (SHA1, 6 digits, 30 s)."""
    secret: Secret
    """160 bits, base32 without padding (RFC 4648)."""


class UpdateCartRequest(Model):
    """`commerce.carts.update` (revision 3): absent fields stay; nil removes."""
    cart_id: UUID
    billing_address: Address | None = None
    contact_phone: str | None = None
    """E.164."""
    promotion_code: str | None = None
    """Matched case-insensitively; `validation_failed` when it does not
    apply to the cart.
    """
    shipping_address: Address | None = None


class UpdateMeRequest(Model):
    """`auth.update_me` (B): changes the caller's own profile. An absent field
    is left as it is; `phone: nil` removes the phone.
    """
    display_name: str | None = None
    phone: str | None = None
    """Absent: unchanged; nil: removed; a string: E.164 (`+4930123456`)."""


class UpdateProductRequest(Model):
    """`commerce.products.update` (owner, admin): absent fields stay."""
    id: UUID
    description: str | None = None
    name: str | None = None
    price: Money | None = None
    status: ProductStatus | None = None


class UpdatePromotionRequest(Model):
    """`commerce.promotions.update` (owner, admin; revision 3): absent fields
    stay; nil removes an end or a limit.
    """
    id: UUID
    ends_at: datetime | None = None
    """Absent: unchanged; nil: no end."""
    status: PromotionStatus | None = None
    usage_limit: int | None = None
    """Absent: unchanged; nil: no limit; else at least the uses it has."""


class UpdateTenantRequest(Model):
    """`tenant.update` (owner, admin): an absent field is left as it is."""
    name: str | None = None
    require_mfa: bool | None = None
    """Owners only: whether members need TOTP (revision 3)."""
    self_registration: bool | None = None


class UpdateVariantRequest(Model):
    """`commerce.products.variants.update` (owner, admin; revision 3): absent
    fields stay.
    """
    id: UUID
    price: Money | None = None
    status: ProductStatus | None = None


class UserDeleted(Model):
    """`user.deleted` (revision 3): the user erased their account
    (`auth.delete_me`): their personal data is gone from the tenant, their
    sessions ended, and their orders keep `customer_id` without the person.
    It carries no personal data.
    """
    orders_kept: int
    """Orders kept, without the person (addresses, contact phone)."""
    sessions_revoked: int
    """Sessions revoked by it."""
    user_id: UUID


class UserEmailChanged(Model):
    """`user.email_changed` (revision 3): the user confirmed a new address
    (`auth.confirm_email_change`); it counts as verified, and their other
    sessions were revoked. The addresses are personal data: absent from the
    stored events of a user who was erased.
    """
    sessions_revoked: int
    """Sessions revoked by the change."""
    user_id: UUID
    email: str | None = None
    """The new address."""
    previous_email: str | None = None
    """The address before."""


class UserEmailVerified(Model):
    """`user.email_verified`: a user proved their address."""
    user_id: UUID
    email: str | None = None
    """Absent from the stored events of a user who was erased."""


class UserLocked(Model):
    """`user.locked`: too many consecutive failed logins; the account refuses
    every login, even with the right password, until `locked_until` (or a
    password reset).
    """
    failed_logins: int
    locked_until: datetime
    user_id: UUID


class UserLoggedIn(Model):
    """`user.logged_in`: a login opened a session."""
    session_id: UUID
    user_id: UUID
    ip: str | None = None
    """The client's address as the gateway saw it, when it was a valid IP."""
    user_agent: str | None = None
    """The client's agent, at most 512 bytes."""


class UserLoggedOut(Model):
    """`user.logged_out`: a user ended one session."""
    session_id: UUID
    user_id: UUID


class UserLoginFailed(Model):
    """`user.login_failed`: a login into an existing tenant failed."""
    reason: LoginFailure
    email: str | None = None
    """The email tried, when it was a valid address."""
    ip: str | None = None
    user_id: UUID | None = None
    """The user the email belongs to, if any."""


class UserMfaDisabled(Model):
    """`user.mfa_disabled` (revision 3): the user turned TOTP off
    (`auth.mfa.disable`, with their password and a code); their recovery
    codes are gone and their other sessions were revoked.
    """
    sessions_revoked: int
    """Sessions revoked by it."""
    user_id: UUID


class UserMfaEnabled(Model):
    """`user.mfa_enabled` (revision 3): the user confirmed a TOTP
    authenticator (`auth.mfa.totp.confirm`); their logins now ask for a
    code, and their other sessions were revoked. No secret, code or hash.
    """
    recovery_codes: int
    """Recovery codes issued with it."""
    sessions_revoked: int
    """Sessions revoked by it."""
    user_id: UUID


class UserPasswordChanged(Model):
    """`user.password_changed`: the user's password changed; their other
    sessions were revoked.
    """
    how: PasswordChange
    sessions_revoked: int
    """Sessions revoked by the change."""
    user_id: UUID


class UserRecoveryCodesRegenerated(Model):
    """`user.recovery_codes_regenerated` (revision 3): the user's recovery
    codes were replaced (`auth.mfa.recovery_codes.regenerate`); the old
    ones stopped working. No code or hash.
    """
    recovery_codes: int
    """Recovery codes issued."""
    user_id: UUID


class UserRegistered(Model):
    """`user.registered`: a user was created (the owner at signup, or later
    by registration or invitation).
    """
    user: EventUser


class UserReply(Reply):
    """Reply of `auth.me` and `auth.verify_email`."""
    user: User


class UserUpdated(Model):
    """`user.updated` (revision 3): the user changed their profile
    (`auth.update_me`); the user as they are now.
    """
    user: EventUser


class VerifyEmailRequest(Model):
    """`auth.verify_email` (P)."""
    token: Secret


# Each event type's `data` class.
EVENT_DATA: dict[str, type[Model]] = {
    "cart.checked_out": CartCheckedOut,
    "inventory.adjusted": InventoryAdjusted,
    "invitation.revoked": InvitationRevoked,
    "member.invited": MemberInvited,
    "member.removed": MemberRemoved,
    "member.role_changed": MemberRoleChanged,
    "order.cancelled": OrderCancelled,
    "order.fulfilled": OrderFulfilled,
    "order.paid": OrderPaid,
    "order.placed": OrderPlaced,
    "order.refunded": OrderRefunded,
    "payment.authorized": PaymentAuthorized,
    "payment.captured": PaymentCaptured,
    "payment.failed": PaymentFailed,
    "payment.refunded": PaymentRefunded,
    "payment.voided": PaymentVoided,
    "product.created": ProductCreated,
    "product.updated": ProductUpdated,
    "product.variant_created": ProductVariantCreated,
    "product.variant_updated": ProductVariantUpdated,
    "promotion.created": PromotionCreated,
    "promotion.updated": PromotionUpdated,
    "session.revoked": SessionRevoked,
    "tenant.created": TenantCreated,
    "tenant.reactivated": TenantReactivated,
    "tenant.suspended": TenantSuspended,
    "tenant.updated": TenantUpdated,
    "user.deleted": UserDeleted,
    "user.email_changed": UserEmailChanged,
    "user.email_verified": UserEmailVerified,
    "user.locked": UserLocked,
    "user.logged_in": UserLoggedIn,
    "user.logged_out": UserLoggedOut,
    "user.login_failed": UserLoginFailed,
    "user.mfa_disabled": UserMfaDisabled,
    "user.mfa_enabled": UserMfaEnabled,
    "user.password_changed": UserPasswordChanged,
    "user.recovery_codes_regenerated": UserRecoveryCodesRegenerated,
    "user.registered": UserRegistered,
    "user.updated": UserUpdated,
}

# The `data` of any event: narrow it with isinstance.
EventData = Union[
    CartCheckedOut,
    InventoryAdjusted,
    InvitationRevoked,
    MemberInvited,
    MemberRemoved,
    MemberRoleChanged,
    OrderCancelled,
    OrderFulfilled,
    OrderPaid,
    OrderPlaced,
    OrderRefunded,
    PaymentAuthorized,
    PaymentCaptured,
    PaymentFailed,
    PaymentRefunded,
    PaymentVoided,
    ProductCreated,
    ProductUpdated,
    ProductVariantCreated,
    ProductVariantUpdated,
    PromotionCreated,
    PromotionUpdated,
    SessionRevoked,
    TenantCreated,
    TenantReactivated,
    TenantSuspended,
    TenantUpdated,
    UserDeleted,
    UserEmailChanged,
    UserEmailVerified,
    UserLocked,
    UserLoggedIn,
    UserLoggedOut,
    UserLoginFailed,
    UserMfaDisabled,
    UserMfaEnabled,
    UserPasswordChanged,
    UserRecoveryCodesRegenerated,
    UserRegistered,
    UserUpdated,
]
