//! Requests and replies of the commerce service (`{prefix}.commerce.v1.*`):
//! every operation needs a bearer token; the tenant is the token's.
//!
//! Money is an integer amount in the currency's minor unit (cents for
//! `EUR`) and its ISO 4217 code: `{amount: 1999, currency: "EUR"}`; never
//! a float.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use uuid::Uuid;

/// A variant's option values (revision 3): `{option: value}`, e.g.
/// `{"size": "M", "color": "red"}`; empty for a product's first variant.
pub type OptionValues = BTreeMap<String, String>;

/// An amount of money: minor units and an ISO 4217 code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Money {
    /// In the currency's minor unit (e.g. cents), as the currency's
    /// exponent says (`JPY` has none, `BHD` three).
    pub amount: i64,
    /// ISO 4217, e.g. `EUR`.
    pub currency: String,
}

/// A postal address (contract §4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Address {
    pub name: String,
    pub line1: String,
    #[serde(default)]
    pub line2: Option<String>,
    pub city: String,
    #[serde(default)]
    pub region: Option<String>,
    pub postal_code: String,
    /// ISO 3166-1 alpha-2, e.g. `DE`.
    pub country: String,
}

/// Whether a product can be ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ProductStatus {
    Active,
    Archived,
}

impl ProductStatus {
    /// The wire and database name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Archived => "archived",
        }
    }

    /// Parses the wire and database name.
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "active" => Some(Self::Active),
            "archived" => Some(Self::Archived),
            _ => None,
        }
    }
}

/// A product of the tenant's catalog.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Product {
    pub id: Uuid,
    /// Unique within the tenant, across products and variants: the first
    /// variant's.
    pub sku: String,
    pub name: String,
    pub description: String,
    /// The first variant's.
    pub price: Money,
    /// Units in stock of the first variant, never below zero.
    pub stock: i64,
    pub status: ProductStatus,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Revision 3: 1 to 100, the first (made by `products.create`, with the
    /// product's id, SKU, price and stock, and no option values) first,
    /// then in the order they were added. Absent from events stored before
    /// revision 3.
    #[serde(default)]
    pub variants: Vec<Variant>,
    /// Revision 3: the option names the variants use, with the values in
    /// use, in the order the variants first use them.
    #[serde(default)]
    pub options: Vec<ProductOption>,
}

/// One variant of a product (revision 3): what an order line or a cart
/// line buys, with its own SKU, price and stock.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Variant {
    pub id: Uuid,
    /// Unique within the tenant, across products and variants.
    pub sku: String,
    pub option_values: OptionValues,
    pub price: Money,
    /// Units in stock, never below zero.
    pub stock: i64,
    /// An archived variant (or any variant of an archived product) cannot
    /// be ordered.
    pub status: ProductStatus,
}

/// An option of a product's variants (revision 3): its name and the values
/// in use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ProductOption {
    pub name: String,
    pub values: Vec<String>,
}

/// `commerce.products.variants.create` (owner, admin; I; revision 3): adds
/// a variant with its option values (1 to 3 options, names and values of 1
/// to 40 characters, at most 20 values per option; the same option names
/// as the product's other variants with options), its own SKU, a price in
/// the product's currency, and stock.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateVariantRequest {
    pub product_id: Uuid,
    pub sku: String,
    pub option_values: OptionValues,
    #[serde(deserialize_with = "crate::codec::map_only")]
    pub price: Money,
    #[serde(default)]
    pub stock: Option<i64>,
}

/// `commerce.products.variants.update` (owner, admin; revision 3): absent
/// fields stay.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateVariantRequest {
    pub id: Uuid,
    #[serde(
        default,
        deserialize_with = "crate::codec::option_map_only",
        skip_serializing_if = "Option::is_none"
    )]
    pub price: Option<Money>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<ProductStatus>,
}

/// `commerce.products.create` (owner, admin; I).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateProductRequest {
    pub sku: String,
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(deserialize_with = "crate::codec::map_only")]
    pub price: Money,
    #[serde(default)]
    pub stock: Option<i64>,
}

/// `commerce.products.get`, `commerce.orders.get`, `orders.cancel`,
/// `orders.fulfill`: one resource by id.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IdRequest {
    pub id: Uuid,
}

/// `commerce.products.list`: a page, optionally of one status, optionally
/// matching `q` in name or SKU (case-insensitive).
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListProductsRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<ProductStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub q: Option<String>,
}

/// `commerce.products.update` (owner, admin): absent fields stay.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateProductRequest {
    pub id: Uuid,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::codec::option_map_only",
        skip_serializing_if = "Option::is_none"
    )]
    pub price: Option<Money>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<ProductStatus>,
}

/// `commerce.inventory.adjust` (owner, admin; I): adds `delta` (negative
/// to remove; at most 10^9 either way) to the stock, which stays 0 to
/// 10^9 (`invalid_state`, `details.state` `insufficient_stock` or
/// `stock_limit`, otherwise; `orders.cancel` keeps the same bound).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AdjustInventoryRequest {
    /// Revision 3: the variant whose stock changes; or `product_id`, for a
    /// product with one variant. Exactly one of the two.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant_id: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product_id: Option<Uuid>,
    pub delta: i64,
    #[serde(default)]
    pub reason: Option<String>,
}

/// Reply of the product operations.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct ProductReply {
    pub product: Product,
}

/// Where an order is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    PendingPayment,
    Paid,
    Fulfilled,
    Cancelled,
    Refunded,
}

impl OrderStatus {
    /// The wire and database name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PendingPayment => "pending_payment",
            Self::Paid => "paid",
            Self::Fulfilled => "fulfilled",
            Self::Cancelled => "cancelled",
            Self::Refunded => "refunded",
        }
    }

    /// Parses the wire and database name.
    pub fn parse(value: &str) -> Option<Self> {
        [
            Self::PendingPayment,
            Self::Paid,
            Self::Fulfilled,
            Self::Cancelled,
            Self::Refunded,
        ]
        .into_iter()
        .find(|s| s.as_str() == value)
    }
}

/// One line of an order request.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderItemRequest {
    /// Revision 3: the variant bought; or `product_id`, for a product with
    /// one variant. Exactly one of the two.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant_id: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product_id: Option<Uuid>,
    /// 1 to 10,000.
    pub quantity: i64,
}

/// `commerce.orders.create` (any member; I): priced on the server; 1 to
/// 100 lines, one per variant (a second line of the same variant, or
/// product, is `validation_failed` naming it).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateOrderRequest {
    /// 1 to 100 lines of active variants in one currency.
    #[serde(deserialize_with = "crate::codec::seq_of_maps")]
    pub items: Vec<OrderItemRequest>,
    #[serde(
        default,
        deserialize_with = "crate::codec::option_map_only",
        skip_serializing_if = "Option::is_none"
    )]
    pub shipping_address: Option<Address>,
    #[serde(
        default,
        deserialize_with = "crate::codec::option_map_only",
        skip_serializing_if = "Option::is_none"
    )]
    pub billing_address: Option<Address>,
    /// E.164.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact_phone: Option<String>,
}

/// One line of an order, priced when it was placed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct OrderLine {
    pub product_id: Uuid,
    /// Revision 3 (absent from events stored before it).
    #[serde(default)]
    pub variant_id: Uuid,
    /// The variant's SKU.
    pub sku: String,
    pub name: String,
    /// Revision 3: the variant's option values.
    #[serde(default)]
    pub option_values: OptionValues,
    pub unit_price: Money,
    pub quantity: i64,
    pub line_total: Money,
}

/// An order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Order {
    pub id: Uuid,
    /// The tenant's order number: 1, 2, 3, ...
    pub number: i64,
    pub customer_id: Uuid,
    /// Revision 3: the cart it was checked out from; nil for an order of
    /// `orders.create`.
    #[serde(default)]
    pub cart_id: Option<Uuid>,
    pub status: OrderStatus,
    pub items: Vec<OrderLine>,
    /// Revision 3: the lines' sum (absent from events stored before it).
    #[serde(default)]
    pub subtotal: Option<Money>,
    /// Revision 3: what a promotion took off the subtotal (absent from
    /// events stored before it).
    #[serde(default)]
    pub discount_total: Option<Money>,
    /// Revision 3: the code of the promotion applied, if any.
    #[serde(default)]
    pub promotion_code: Option<String>,
    /// `subtotal` less `discount_total`.
    pub total: Money,
    pub shipping_address: Option<Address>,
    pub billing_address: Option<Address>,
    pub contact_phone: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// `commerce.orders.list`: members see their own orders, owners and admins
/// all of the tenant's.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListOrdersRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<OrderStatus>,
}

/// Reply of the order operations.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct OrderReply {
    pub order: Order,
}

/// How a payment is made: `{type: "card", token}` (the built-in `test`
/// provider knows `tok_visa` and `tok_chargeDeclined`).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PaymentMethod {
    /// Always `card`.
    #[serde(rename = "type")]
    pub kind: String,
    pub token: String,
}

/// `commerce.payments.authorize` (any member, for their order; I).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AuthorizePaymentRequest {
    pub order_id: Uuid,
    #[serde(deserialize_with = "crate::codec::map_only")]
    pub method: PaymentMethod,
}

/// `commerce.payments.capture` and `payments.void` (owner, admin; I).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PaymentIdRequest {
    pub payment_id: Uuid,
}

/// `commerce.payments.refund` (owner, admin; I): all that is left of the
/// capture when `amount` is absent.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RefundPaymentRequest {
    pub payment_id: Uuid,
    #[serde(
        default,
        deserialize_with = "crate::codec::option_map_only",
        skip_serializing_if = "Option::is_none"
    )]
    pub amount: Option<Money>,
}

/// Where a payment is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PaymentStatus {
    Authorized,
    Captured,
    Voided,
    Failed,
    Refunded,
    PartiallyRefunded,
}

impl PaymentStatus {
    /// The wire and database name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Authorized => "authorized",
            Self::Captured => "captured",
            Self::Voided => "voided",
            Self::Failed => "failed",
            Self::Refunded => "refunded",
            Self::PartiallyRefunded => "partially_refunded",
        }
    }

    /// Parses the wire and database name.
    pub fn parse(value: &str) -> Option<Self> {
        [
            Self::Authorized,
            Self::Captured,
            Self::Voided,
            Self::Failed,
            Self::Refunded,
            Self::PartiallyRefunded,
        ]
        .into_iter()
        .find(|s| s.as_str() == value)
    }
}

/// A payment of an order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Payment {
    pub id: Uuid,
    pub order_id: Uuid,
    pub status: PaymentStatus,
    pub amount: Money,
    pub captured_amount: Money,
    pub refunded_amount: Money,
    /// The provider that handled it (`test`).
    pub provider: String,
    pub failure_reason: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// Reply of the payment operations.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct PaymentReply {
    pub payment: Payment,
}

crate::names_only!(ProductStatus: "active", "archived");

crate::names_only!(OrderStatus: "pending_payment", "paid", "fulfilled", "cancelled", "refunded");

crate::names_only!(PaymentStatus: "authorized", "captured", "voided", "failed", "refunded", "partially_refunded");

/// How a promotion takes its discount off a subtotal (revision 3):
/// `percentage`, `percent` of the subtotal rounded down to the minor unit;
/// `fixed_amount`, `amount` off, never below zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PromotionKind {
    Percentage,
    FixedAmount,
}

impl PromotionKind {
    /// The wire and database name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Percentage => "percentage",
            Self::FixedAmount => "fixed_amount",
        }
    }

    /// Parses the wire and database name.
    pub fn parse(value: &str) -> Option<Self> {
        [Self::Percentage, Self::FixedAmount]
            .into_iter()
            .find(|k| k.as_str() == value)
    }
}

/// Whether a promotion's code may be used (revision 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PromotionStatus {
    Active,
    Disabled,
}

impl PromotionStatus {
    /// The wire and database name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Disabled => "disabled",
        }
    }

    /// Parses the wire and database name.
    pub fn parse(value: &str) -> Option<Self> {
        [Self::Active, Self::Disabled]
            .into_iter()
            .find(|s| s.as_str() == value)
    }
}

/// A promotion (revision 3): a code that takes a percentage or a fixed
/// amount off a cart's subtotal, within its dates, limits and minimum.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Promotion {
    pub id: Uuid,
    /// 3 to 32 characters of `A-Z`, `0-9` and `-`, upper case; matched
    /// case-insensitively, unique per tenant.
    pub code: String,
    pub kind: PromotionKind,
    /// 1 to 100, for `percentage`.
    pub percent: Option<u32>,
    /// For `fixed_amount`.
    pub amount: Option<Money>,
    /// The least subtotal it applies to.
    pub min_subtotal: Option<Money>,
    pub starts_at: Option<DateTime<Utc>>,
    pub ends_at: Option<DateTime<Utc>>,
    /// Uses in all, never exceeded.
    pub usage_limit: Option<u32>,
    /// Uses per customer, never exceeded.
    pub per_customer_limit: Option<u32>,
    /// Orders that use it now (a cancelled order gives its use back).
    pub times_used: u32,
    pub status: PromotionStatus,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// `commerce.promotions.create` (owner, admin; I; revision 3): `percent`
/// for a `percentage`, `amount` for a `fixed_amount`, not the other.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreatePromotionRequest {
    pub code: String,
    pub kind: PromotionKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub percent: Option<u32>,
    #[serde(
        default,
        deserialize_with = "crate::codec::option_map_only",
        skip_serializing_if = "Option::is_none"
    )]
    pub amount: Option<Money>,
    #[serde(
        default,
        deserialize_with = "crate::codec::option_map_only",
        skip_serializing_if = "Option::is_none"
    )]
    pub min_subtotal: Option<Money>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub starts_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ends_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage_limit: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_customer_limit: Option<u32>,
}

/// `commerce.promotions.update` (owner, admin; revision 3): absent fields
/// stay; nil removes an end or a limit.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdatePromotionRequest {
    pub id: Uuid,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<PromotionStatus>,
    /// Absent: unchanged; nil: no end.
    #[serde(
        default,
        deserialize_with = "crate::codec::present",
        skip_serializing_if = "Option::is_none"
    )]
    pub ends_at: Option<Option<DateTime<Utc>>>,
    /// Absent: unchanged; nil: no limit; else at least the uses it has.
    #[serde(
        default,
        deserialize_with = "crate::codec::present",
        skip_serializing_if = "Option::is_none"
    )]
    pub usage_limit: Option<Option<u32>>,
}

/// `commerce.promotions.list` (owner, admin; revision 3): a page, newest
/// last, optionally of one status.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListPromotionsRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<PromotionStatus>,
}

/// Reply of the promotion operations.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct PromotionReply {
    pub promotion: Promotion,
}

crate::names_only!(PromotionKind: "percentage", "fixed_amount");

crate::names_only!(PromotionStatus: "active", "disabled");

/// Where a cart is in its life (revision 3): `expired` is an open cart
/// left 30 days without a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CartStatus {
    Open,
    CheckedOut,
    Expired,
}

impl CartStatus {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::CheckedOut => "checked_out",
            Self::Expired => "expired",
        }
    }

    /// Parses the wire name.
    pub fn parse(value: &str) -> Option<Self> {
        [Self::Open, Self::CheckedOut, Self::Expired]
            .into_iter()
            .find(|s| s.as_str() == value)
    }
}

crate::names_only!(CartStatus: "open", "checked_out", "expired");

/// One line of a cart, priced as its variant is now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CartLine {
    pub variant_id: Uuid,
    pub product_id: Uuid,
    /// The variant's SKU.
    pub sku: String,
    pub name: String,
    pub option_values: OptionValues,
    pub unit_price: Money,
    pub quantity: i64,
    pub line_total: Money,
}

/// A cart (revision 3): its member's alone, priced live on every read.
/// An empty cart's amounts are in `XXX` (ISO 4217: no currency).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Cart {
    pub id: Uuid,
    pub status: CartStatus,
    pub customer_id: Uuid,
    /// In the order they were added.
    pub items: Vec<CartLine>,
    /// Upper case, as the promotion has it.
    pub promotion_code: Option<String>,
    /// Whether `promotion_code` applies now (its discount is in
    /// `discount_total`).
    pub promotion_applies: bool,
    pub subtotal: Money,
    pub discount_total: Money,
    /// `subtotal` less `discount_total`.
    pub total: Money,
    pub shipping_address: Option<Address>,
    pub billing_address: Option<Address>,
    pub contact_phone: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// 30 days after `updated_at`.
    pub expires_at: DateTime<Utc>,
}

/// Reply of the cart operations.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct CartReply {
    pub cart: Cart,
}

/// `commerce.carts.items.set` (revision 3): the line of `variant_id` gets
/// `quantity` (1 to 10,000); 0 removes it.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SetCartItemRequest {
    pub cart_id: Uuid,
    pub variant_id: Uuid,
    pub quantity: i64,
}

/// `commerce.carts.update` (revision 3): absent fields stay; nil removes.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateCartRequest {
    pub cart_id: Uuid,
    #[serde(
        default,
        deserialize_with = "crate::codec::present_map_only",
        skip_serializing_if = "Option::is_none"
    )]
    pub shipping_address: Option<Option<Address>>,
    #[serde(
        default,
        deserialize_with = "crate::codec::present_map_only",
        skip_serializing_if = "Option::is_none"
    )]
    pub billing_address: Option<Option<Address>>,
    /// E.164.
    #[serde(
        default,
        deserialize_with = "crate::codec::present",
        skip_serializing_if = "Option::is_none"
    )]
    pub contact_phone: Option<Option<String>>,
    /// Matched case-insensitively; `validation_failed` when it does not
    /// apply to the cart.
    #[serde(
        default,
        deserialize_with = "crate::codec::present",
        skip_serializing_if = "Option::is_none"
    )]
    pub promotion_code: Option<Option<String>>,
}

/// `commerce.carts.checkout` (I; revision 3): the cart becomes an order;
/// with `payment_method`, its total is then authorized.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckoutRequest {
    pub cart_id: Uuid,
    #[serde(
        default,
        deserialize_with = "crate::codec::option_map_only",
        skip_serializing_if = "Option::is_none"
    )]
    pub payment_method: Option<PaymentMethod>,
}

/// Reply of `commerce.carts.checkout`: the order, and the payment when a
/// method was given (`failed` when the card was declined).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct CheckoutReply {
    pub order: Order,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment: Option<Payment>,
}
