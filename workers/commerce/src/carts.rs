//! Carts (contract §5 commerce, revision 3): `carts.create`, `get`,
//! `items.set`, `update` and `checkout`.
//!
//! A cart is its member's alone: anyone else, owners and admins included,
//! gets `not_found`. Its lines name variants and quantities, never prices:
//! every read and change prices it as the catalog and its promotion are
//! now, and it reserves no stock. It holds at most 100 lines of 1 to
//! 10,000 units, in one currency; an empty cart's amounts are in `XXX`
//! (ISO 4217's "no currency"). An open cart left [`IDLE_DAYS`] without a
//! change is expired, read from its `updated_at` (nothing runs to expire
//! it).
//!
//! A code set on a cart must apply to it then (`validation_failed` on
//! `promotion_code` otherwise, the cart keeping its code); one that stops
//! applying later stays, with `promotion_applies: false` and no discount,
//! and its checkout is refused (`invalid_state`, `promotion_unavailable`)
//! rather than charged at another price than the cart showed.
//!
//! `carts.checkout` prices the cart again and places its order as
//! `orders.create` does ([`orders::place`]: every line's stock or none, the
//! promotion counted under its lock), with the cart's id, addresses and
//! phone, and closes the cart, in one transaction. With a payment method,
//! that transaction commits first ([`Ctx::commit_now`]) and the order's
//! total is then authorized ([`payments::authorize_checkout`]), so that
//! no hold is ever taken for an order that was not kept. An idempotent
//! checkout records SHA-256 of its key and request on the cart: a retry
//! after the order committed but before the reply was stored finds it and
//! finishes the payment instead of refusing a closed cart.

use chrono::{DateTime, Duration, Utc};
use olympus_contracts::commerce::{
    Address, Cart, CartLine, CartReply, CartStatus, CheckoutReply, CheckoutRequest, IdRequest,
    OptionValues, Promotion, SetCartItemRequest, UpdateCartRequest,
};
use olympus_contracts::event::data;
use olympus_contracts::shapes::Empty;
use olympus_runtime::error::Validation;
use olympus_runtime::idempotency;
use olympus_runtime::outbox::{Event, Prepared};
use olympus_runtime::{phone, Ctx, Error};
use sha2::{Digest, Sha256};
use sqlx::postgres::PgArguments;
use sqlx::Arguments;
use sqlx::PgConnection;
use std::sync::{Arc, LazyLock};
use uuid::Uuid;

use crate::orders::{self, Placement, Wanted};
use crate::promotions::{self, Usage};
use crate::provider::PaymentProvider;
use crate::{address, money, payments};

/// Days an open cart lasts without a change.
pub const IDLE_DAYS: i64 = 30;

/// The currency of an empty cart's amounts (ISO 4217: no currency).
pub const NO_CURRENCY: &str = "XXX";

const CART_COLUMNS: &str = "id, customer_id, status, promotion_code, shipping_address, \
     billing_address, contact_phone, order_id, checkout_request, created_at, updated_at";

#[derive(Debug, sqlx::FromRow)]
struct CartRow {
    id: Uuid,
    customer_id: Uuid,
    status: String,
    promotion_code: Option<String>,
    shipping_address: Option<sqlx::types::Json<Address>>,
    billing_address: Option<sqlx::types::Json<Address>>,
    contact_phone: Option<String>,
    order_id: Option<Uuid>,
    checkout_request: Option<Vec<u8>>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl CartRow {
    fn status(&self, now: DateTime<Utc>) -> CartStatus {
        if self.status == "checked_out" {
            CartStatus::CheckedOut
        } else if now >= self.expires_at() {
            CartStatus::Expired
        } else {
            CartStatus::Open
        }
    }

    fn expires_at(&self) -> DateTime<Utc> {
        self.updated_at + Duration::days(IDLE_DAYS)
    }

    /// `invalid_state` unless the cart is open.
    fn open(&self, now: DateTime<Utc>) -> Result<(), Error> {
        match self.status(now) {
            CartStatus::Open => Ok(()),
            // The caller's own cart: its order is theirs to find.
            CartStatus::CheckedOut => Err(Error::invalid_state(
                "checked_out",
                "the cart is checked out: create another",
            )
            .with_detail(
                "order_id",
                self.order_id.map(|id| id.to_string()).unwrap_or_default(),
            )),
            CartStatus::Expired => Err(Error::invalid_state(
                "expired",
                format!("the cart expired after {IDLE_DAYS} days without a change: create another"),
            )),
        }
    }
}

/// A line of a cart with its variant as it is now.
#[derive(Debug, sqlx::FromRow)]
struct LineRow {
    variant_id: Uuid,
    product_id: Uuid,
    sku: String,
    name: String,
    option_values: sqlx::types::Json<OptionValues>,
    price_amount: i64,
    currency: String,
    quantity: i64,
}

/// The lines of `cart_id`, in the order they were added.
async fn lines(conn: &mut PgConnection, cart_id: Uuid) -> Result<Vec<LineRow>, Error> {
    Ok(sqlx::query_as(
        "SELECT i.variant_id, v.product_id, v.sku, p.name, v.option_values, v.price_amount,
                v.currency, i.quantity
           FROM cart_items i JOIN product_variants v ON v.id = i.variant_id
                JOIN products p ON p.id = v.product_id
          WHERE i.cart_id = $1 ORDER BY i.position",
    )
    .bind(cart_id)
    .fetch_all(conn)
    .await?)
}

/// The currency of a cart's `lines` and their subtotal in it: the first
/// line's currency (`XXX` for no line). A line whose price has moved to
/// another currency since it was added is not summed (money of two
/// currencies has no sum); it shows its own price, and the checkout
/// refuses the cart as `orders.create` refuses mixed currencies. A read
/// never fails on its sums: past [`money::MAX_AMOUNT`] (prices raised on
/// a cart of 10,000 units) a line or the subtotal shows that bound, and
/// the checkout refuses the total as too large.
fn sum(lines: &[LineRow]) -> (String, i64) {
    let currency = lines
        .first()
        .map_or(NO_CURRENCY, |l| l.currency.as_str())
        .to_owned();
    let subtotal = lines
        .iter()
        .filter(|l| l.currency == currency)
        .fold(0, |sum, l| {
            money::plus(sum, line_total(l)).unwrap_or(money::MAX_AMOUNT)
        });
    (currency, subtotal)
}

/// A line's total, at most [`money::MAX_AMOUNT`] (see [`sum`]).
fn line_total(line: &LineRow) -> i64 {
    money::times(line.price_amount, line.quantity).unwrap_or(money::MAX_AMOUNT)
}

/// The promotion of `code` as it stands for `customer_id`'s cart of
/// `lines` at `now`: the promotion when it applies, or why it does not
/// (the words follow "the promotion ...").
async fn applying(
    conn: &mut PgConnection,
    code: &str,
    customer_id: Uuid,
    lines: &[LineRow],
    now: DateTime<Utc>,
) -> Result<Result<Promotion, &'static str>, Error> {
    let Some(promotion) = promotions::by_code(conn, code).await? else {
        return Ok(Err("does not exist"));
    };
    let uses = promotions::uses_of(conn, promotion.id, customer_id).await?;
    let (currency, subtotal) = sum(lines);
    let currency = (!lines.is_empty()).then_some(currency.as_str());
    Ok(
        match promotions::refusal(&promotion, subtotal, currency, now, Usage::Known(uses)) {
            None => Ok(promotion),
            Some(why) => Err(why),
        },
    )
}

/// A cart as priced now, with its promotion: `None` without a code, else
/// the promotion that applies or why the code does not.
struct Priced {
    cart: Cart,
    promotion: Option<Result<Promotion, &'static str>>,
}

/// Prices `row` with its lines and promotion as they are at `now`.
async fn price(conn: &mut PgConnection, row: CartRow, now: DateTime<Utc>) -> Result<Priced, Error> {
    let lines = lines(conn, row.id).await?;
    let (currency, subtotal) = sum(&lines);
    let promotion = match &row.promotion_code {
        Some(code) => Some(applying(conn, code, row.customer_id, &lines, now).await?),
        None => None,
    };
    let mut items = Vec::with_capacity(lines.len());
    for line in lines {
        let line_total = line_total(&line);
        items.push(CartLine {
            variant_id: line.variant_id,
            product_id: line.product_id,
            sku: line.sku,
            name: line.name,
            option_values: line.option_values.0,
            unit_price: money::of(line.price_amount, &line.currency),
            quantity: line.quantity,
            line_total: money::of(line_total, &line.currency),
        });
    }
    let applies = matches!(promotion, Some(Ok(_)));
    let discount = match &promotion {
        Some(Ok(p)) => promotions::discount_of(p, subtotal),
        _ => 0,
    };
    let cart = Cart {
        id: row.id,
        status: row.status(now),
        customer_id: row.customer_id,
        items,
        promotion_code: row.promotion_code.clone(),
        promotion_applies: applies,
        subtotal: money::of(subtotal, &currency),
        discount_total: money::of(discount, &currency),
        total: money::of(subtotal - discount, &currency),
        shipping_address: row.shipping_address.as_ref().map(|a| a.0.clone()),
        billing_address: row.billing_address.as_ref().map(|a| a.0.clone()),
        contact_phone: row.contact_phone.clone(),
        created_at: row.created_at,
        updated_at: row.updated_at,
        expires_at: row.expires_at(),
    };
    Ok(Priced { cart, promotion })
}

/// The cart `id` of `customer_id` (locked when `lock`): anyone else's,
/// or another tenant's, is `not_found`.
async fn find(
    conn: &mut PgConnection,
    id: Uuid,
    customer_id: Uuid,
    lock: bool,
) -> Result<CartRow, Error> {
    // Locked after the caller's gate (shared), which a checkout takes
    // anyway (`orders::place`): `auth.delete_me` holds it exclusively
    // while its cascade deletes the carts, so the cart's lock must never
    // be held while waiting for the gate.
    let row: Option<CartRow> = sqlx::query_as(&if lock {
        format!(
            "WITH gate AS MATERIALIZED (SELECT olympus_person_gate_shared($2))
             SELECT {CART_COLUMNS} FROM gate, carts
              WHERE id = $1 AND customer_id = $2 FOR UPDATE OF carts"
        )
    } else {
        format!("SELECT {CART_COLUMNS} FROM carts WHERE id = $1 AND customer_id = $2")
    })
    .bind(id)
    .bind(customer_id)
    .fetch_optional(conn)
    .await?;
    row.ok_or_else(|| Error::not_found("no such cart"))
}

/// Every cart of `customer_id`, oldest first, priced now (for
/// `auth.export_me`).
pub async fn of_customer(
    conn: &mut PgConnection,
    customer_id: Uuid,
    now: DateTime<Utc>,
) -> Result<Vec<Cart>, Error> {
    let rows: Vec<CartRow> = sqlx::query_as(&format!(
        "SELECT {CART_COLUMNS} FROM carts WHERE customer_id = $1 ORDER BY id"
    ))
    .bind(customer_id)
    .fetch_all(&mut *conn)
    .await?;
    let mut carts = Vec::with_capacity(rows.len());
    for row in rows {
        carts.push(price(conn, row, now).await?.cart);
    }
    Ok(carts)
}

/// Marks `cart_id` changed at `now`, which starts its idle time again.
async fn touch(
    conn: &mut PgConnection,
    cart_id: Uuid,
    now: DateTime<Utc>,
) -> Result<CartRow, Error> {
    Ok(sqlx::query_as(&format!(
        "UPDATE carts SET updated_at = $2 WHERE id = $1 RETURNING {CART_COLUMNS}"
    ))
    .bind(cart_id)
    .bind(now)
    .fetch_one(conn)
    .await?)
}

/// Handles `commerce.carts.create`: an empty open cart of the caller's.
pub async fn create(ctx: Ctx, _request: Empty) -> Result<CartReply, Error> {
    let claims = ctx.claims()?;
    let now = ctx.now();
    let mut tx = ctx.tx().await?;
    let row: CartRow = sqlx::query_as(&format!(
        "INSERT INTO carts (id, tenant_id, customer_id, status, created_at, updated_at)
         VALUES ($1, $2, $3, 'open', $4, $4) RETURNING {CART_COLUMNS}"
    ))
    .bind(Uuid::now_v7())
    .bind(claims.tid)
    .bind(claims.sub)
    .bind(now)
    .fetch_one(&mut *tx)
    .await?;
    let cart = price(&mut tx, row, now).await?.cart;
    Ok(CartReply { cart })
}

/// Handles `commerce.carts.get`: the caller's cart, priced now.
pub async fn get(ctx: Ctx, request: IdRequest) -> Result<CartReply, Error> {
    let claims = ctx.claims()?;
    let now = ctx.now();
    let mut tx = ctx.tx().await?;
    let row = find(&mut tx, request.id, claims.sub, false).await?;
    let cart = price(&mut tx, row, now).await?.cart;
    Ok(CartReply { cart })
}

/// Handles `commerce.carts.items.set`: the line of a variant gets a
/// quantity (1 to 10,000), or goes (0). A new line's variant must be
/// active and in the cart's currency, and the cart hold fewer than 100
/// lines.
pub async fn set_item(ctx: Ctx, request: SetCartItemRequest) -> Result<CartReply, Error> {
    let claims = ctx.claims()?;
    if !(0..=orders::MAX_QUANTITY).contains(&request.quantity) {
        return Err(Validation::failed(
            "quantity",
            [format!(
                "must be 0 (removes the line) to {}",
                orders::MAX_QUANTITY
            )],
        ));
    }
    let now = ctx.now();
    let mut tx = ctx.tx().await?;
    let cart = find(&mut tx, request.cart_id, claims.sub, true).await?;
    cart.open(now)?;
    if request.quantity == 0 {
        sqlx::query("DELETE FROM cart_items WHERE cart_id = $1 AND variant_id = $2")
            .bind(cart.id)
            .bind(request.variant_id)
            .execute(&mut *tx)
            .await?;
    } else {
        let variant: Option<(String, String, String)> = sqlx::query_as(
            "SELECT v.currency, v.status, p.status FROM product_variants v
               JOIN products p ON p.id = v.product_id WHERE v.id = $1",
        )
        .bind(request.variant_id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((currency, status, product_status)) = variant else {
            return Err(Error::not_found("no such variant")
                .with_detail("variant_id", request.variant_id.to_string()));
        };
        if status != "active" || product_status != "active" {
            return Err(Validation::failed("variant_id", ["is archived"]));
        }
        // The other lines: their currencies and how many there are.
        let (others, other_currency): (i64, Option<String>) = sqlx::query_as(
            "SELECT count(*), min(v.currency) FILTER (WHERE v.currency <> $3)
               FROM cart_items i JOIN product_variants v ON v.id = i.variant_id
              WHERE i.cart_id = $1 AND i.variant_id <> $2",
        )
        .bind(cart.id)
        .bind(request.variant_id)
        .bind(&currency)
        .fetch_one(&mut *tx)
        .await?;
        if others >= orders::MAX_LINES as i64 {
            return Err(Validation::failed(
                "variant_id",
                [format!(
                    "the cart holds {} lines at most",
                    orders::MAX_LINES
                )],
            ));
        }
        if let Some(other) = other_currency {
            return Err(Validation::failed(
                "variant_id",
                [format!(
                    "is priced in {currency}, the cart in {other}: one currency per cart"
                )],
            ));
        }
        sqlx::query(
            "INSERT INTO cart_items (cart_id, tenant_id, variant_id, quantity, position)
             SELECT $1, $2, $3, $4, coalesce(max(position), 0) + 1
               FROM cart_items WHERE cart_id = $1
             ON CONFLICT (cart_id, variant_id) DO UPDATE SET quantity = excluded.quantity",
        )
        .bind(cart.id)
        .bind(claims.tid)
        .bind(request.variant_id)
        .bind(request.quantity)
        .execute(&mut *tx)
        .await?;
    }
    let row = touch(&mut tx, cart.id, now).await?;
    let cart = price(&mut tx, row, now).await?.cart;
    Ok(CartReply { cart })
}

/// Handles `commerce.carts.update`: addresses, phone and promotion code;
/// absent fields stay, nil removes. A code must apply to the cart as it is.
pub async fn update(ctx: Ctx, request: UpdateCartRequest) -> Result<CartReply, Error> {
    let claims = ctx.claims()?;
    let mut v = Validation::default();
    let shipping = request.shipping_address.as_ref().map(|a| {
        a.as_ref()
            .and_then(|a| address::parse(&mut v, "shipping_address", a))
    });
    let billing = request.billing_address.as_ref().map(|a| {
        a.as_ref()
            .and_then(|a| address::parse(&mut v, "billing_address", a))
    });
    let contact_phone = request.contact_phone.as_ref().map(|p| {
        p.as_deref()
            .and_then(|p| v.check("contact_phone", phone::parse(p)))
    });
    let code = request.promotion_code.as_ref().map(|c| {
        c.as_deref()
            .and_then(|c| v.check("promotion_code", promotions::code(c)))
    });
    v.finish()?;
    let now = ctx.now();
    let mut tx = ctx.tx().await?;
    let cart = find(&mut tx, request.cart_id, claims.sub, true).await?;
    cart.open(now)?;
    if let Some(Some(code)) = &code {
        let lines = lines(&mut tx, cart.id).await?;
        if let Err(why) = applying(&mut tx, code, claims.sub, &lines, now).await? {
            return Err(Validation::failed(
                "promotion_code",
                [format!("does not apply to this cart: the promotion {why}")],
            ));
        }
    }
    let json = |a: &Option<Option<Address>>| a.clone().map(|a| a.map(sqlx::types::Json));
    let row: CartRow = sqlx::query_as(&format!(
        "UPDATE carts SET
             shipping_address = CASE WHEN $2 THEN $3 ELSE shipping_address END,
             billing_address = CASE WHEN $4 THEN $5 ELSE billing_address END,
             contact_phone = CASE WHEN $6 THEN $7 ELSE contact_phone END,
             promotion_code = CASE WHEN $8 THEN $9 ELSE promotion_code END,
             updated_at = $10
          WHERE id = $1 RETURNING {CART_COLUMNS}"
    ))
    .bind(cart.id)
    .bind(shipping.is_some())
    .bind(json(&shipping).flatten())
    .bind(billing.is_some())
    .bind(json(&billing).flatten())
    .bind(contact_phone.is_some())
    .bind(contact_phone.clone().flatten())
    .bind(code.is_some())
    .bind(code.clone().flatten())
    .bind(now)
    .fetch_one(&mut *tx)
    .await?;
    let cart = price(&mut tx, row, now).await?.cart;
    Ok(CartReply { cart })
}

/// What an idempotent checkout with a payment records on its cart: SHA-256
/// of its key and request, so that only its own retry resumes it.
fn checkout_request(ctx: &Ctx, request: &CheckoutRequest) -> Result<Option<Vec<u8>>, Error> {
    let (Some(key), Some(_)) = (&ctx.request().idempotency_key, &request.payment_method) else {
        return Ok(None);
    };
    let mut hash = Sha256::new();
    hash.update(key.as_bytes());
    hash.update([0]);
    hash.update(idempotency::fingerprint(request)?);
    Ok(Some(hash.finalize().to_vec()))
}

/// Handles `commerce.carts.checkout` (see [the module](self)).
pub async fn checkout(
    ctx: Ctx,
    request: CheckoutRequest,
    provider: Arc<dyn PaymentProvider>,
) -> Result<CheckoutReply, Error> {
    let claims = ctx.claims()?;
    if let Some(method) = &request.payment_method {
        let mut v = Validation::default();
        payments::check_method(&mut v, "payment_method", method);
        v.finish()?;
    }
    let recorded = checkout_request(&ctx, &request)?;
    let now = ctx.now();
    let order = {
        let mut tx = ctx.tx().await?;
        let cart = find(&mut tx, request.cart_id, claims.sub, true).await?;
        match (cart.order_id, &cart.checkout_request) {
            // This very checkout, retried after its order committed and
            // before its reply was stored: the payment is what is left.
            (Some(order_id), Some(done)) if recorded.as_ref() == Some(done) => {
                drop(tx);
                return finish_payment(&ctx, &request, order_id, provider).await;
            }
            _ => cart.open(now)?,
        }
        let cart_id = cart.id;
        let (shipping_address, billing_address, contact_phone) = (
            cart.shipping_address.as_ref().map(|a| a.0.clone()),
            cart.billing_address.as_ref().map(|a| a.0.clone()),
            cart.contact_phone.clone(),
        );
        let priced = price(&mut tx, cart, now).await?;
        if priced.cart.items.is_empty() {
            return Err(Error::invalid_state("empty", "the cart has no lines"));
        }
        let promotion = match priced.promotion {
            None => None,
            Some(Ok(promotion)) => Some(promotion),
            Some(Err(why)) => return Err(orders::promotion_unavailable(why)),
        };
        let placement = Placement {
            lines: priced
                .cart
                .items
                .iter()
                .map(|line| Wanted {
                    id: line.variant_id,
                    by_product: false,
                    quantity: line.quantity,
                })
                .collect(),
            shipping_address,
            billing_address,
            contact_phone,
            cart_id: Some(cart_id),
            promotion,
        };
        let order = orders::place(&ctx, &mut tx, placement).await?;
        let checked_out = data::CartCheckedOut {
            cart_id,
            order_id: order.id,
            customer_id: claims.sub,
            promotion_code: order.promotion_code.clone(),
            subtotal: order
                .subtotal
                .clone()
                .unwrap_or_else(|| order.total.clone()),
            discount_total: order
                .discount_total
                .clone()
                .unwrap_or_else(|| money::of(0, &order.total.currency)),
            total: order.total.clone(),
        };
        let event = tx
            .events()
            .prepare(Event::new(claims.tid, cart_id, &checked_out))?;
        // The cart closed and its event recorded in one round trip.
        let mut args = PgArguments::default();
        let added = (|| {
            args.add(cart_id)?;
            args.add(order.id)?;
            args.add(recorded.as_deref())?;
            args.add(now)
        })();
        added.map_err(|e| Error::internal(anyhow::anyhow!("binding a cart: {e}")))?;
        event.add_to(&mut args)?;
        static CLOSE: LazyLock<String> = LazyLock::new(|| {
            format!(
                "WITH closed AS (
                     UPDATE carts SET status = 'checked_out', order_id = $2,
                                      checkout_request = $3, updated_at = $4
                      WHERE id = $1)
                 SELECT {}",
                Prepared::record_call(5)
            )
        });
        sqlx::query_with(&CLOSE, args).execute(&mut *tx).await?;
        tracing::info!(cart_id = %cart_id, order_id = %order.id, "cart checked out");
        order
    };
    if request.payment_method.is_none() {
        return Ok(CheckoutReply {
            order,
            payment: None,
        });
    }
    // The order is kept before any money is held for it.
    ctx.commit_now().await?;
    finish_payment(&ctx, &request, order.id, provider).await
}

/// The payment of a checkout whose order committed, and the reply; any
/// failure now is `unavailable` with an unknown outcome (the order is
/// made), which the retry with the same key finishes.
async fn finish_payment(
    ctx: &Ctx,
    request: &CheckoutRequest,
    order_id: Uuid,
    provider: Arc<dyn PaymentProvider>,
) -> Result<CheckoutReply, Error> {
    pay(ctx, request, order_id, provider).await.map_err(|err| {
        if err.details().is_some_and(|d| d.contains_key("outcome")) {
            err
        } else {
            Error::outcome_unknown(anyhow::anyhow!(
                "paying the checked-out order {order_id}: {}",
                err.message()
            ))
        }
    })
}

/// [`finish_payment`]'s work.
async fn pay(
    ctx: &Ctx,
    request: &CheckoutRequest,
    order_id: Uuid,
    provider: Arc<dyn PaymentProvider>,
) -> Result<CheckoutReply, Error> {
    let Some(method) = &request.payment_method else {
        return Err(Error::internal(anyhow::anyhow!(
            "a checkout's payment without a method"
        )));
    };
    let (order, payment) = payments::authorize_checkout(ctx, order_id, method, &provider).await?;
    Ok(CheckoutReply { order, payment })
}
