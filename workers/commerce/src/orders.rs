//! Orders: `orders.create`, `get`, `list`, `cancel`, `fulfill`.
//!
//! An order is priced on the server from the variants as they are when it
//! is placed (a line names a variant, or a product with one variant). Its
//! stock is reserved for all lines or none, in one transaction: the
//! variants are locked in one statement in id order (so concurrent orders
//! queue instead of deadlocking), every line is checked (each short one is
//! named in `insufficient_stock`), then the stock goes down in one
//! statement; the table's `CHECK (stock >= 0)` stands behind it.
//!
//! States and the only transitions (contract §5): `pending_payment` →
//! `paid` (capture) or `cancelled` (cancel, stock released; an authorized
//! payment must be voided first); `paid` →
//! `fulfilled` (fulfill) or `refunded` (full refund); `fulfilled` →
//! `refunded`. Anything else is `invalid_state` with the current state.
//! Members see and cancel their own orders; owners and admins all.

use chrono::{DateTime, Utc};
use olympus_contracts::commerce::{
    Address, CreateOrderRequest, IdRequest, ListOrdersRequest, OptionValues, Order, OrderLine,
    OrderReply, OrderStatus, Promotion,
};
use olympus_contracts::event::data;
use olympus_contracts::shapes::{Page, Role};
use olympus_contracts::ErrorCode;
use olympus_runtime::error::Validation;
use olympus_runtime::outbox::{Event, Prepared};
use olympus_runtime::pages::Pager;
use olympus_runtime::{phone, Ctx, Error, Tx};
use sqlx::postgres::PgArguments;
use sqlx::{Arguments, PgConnection, Row};
use std::collections::BTreeMap;
use std::sync::LazyLock;
use uuid::Uuid;

use crate::promotions::{self, Usage};
use crate::{address, money, stock};

/// Lines per order.
pub const MAX_LINES: usize = 100;
/// Units per line.
pub const MAX_QUANTITY: i64 = 10_000;

const ORDER_COLUMNS: &str = "id, number, customer_id, cart_id, status, currency, total_amount, \
     coalesce(subtotal_amount, total_amount + discount_amount) AS subtotal_amount, \
     discount_amount, promotion_code, shipping_address, billing_address, contact_phone, \
     created_at, updated_at";

#[derive(Debug, sqlx::FromRow)]
struct OrderRow {
    id: Uuid,
    number: i64,
    customer_id: Uuid,
    cart_id: Option<Uuid>,
    status: String,
    currency: String,
    total_amount: i64,
    subtotal_amount: i64,
    discount_amount: i64,
    promotion_code: Option<String>,
    shipping_address: Option<sqlx::types::Json<Address>>,
    billing_address: Option<sqlx::types::Json<Address>>,
    contact_phone: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

#[derive(Debug, sqlx::FromRow)]
struct LineRow {
    order_id: Uuid,
    product_id: Uuid,
    variant_id: Uuid,
    option_values: sqlx::types::Json<OptionValues>,
    sku: String,
    name: String,
    unit_amount: i64,
    quantity: i64,
    line_amount: i64,
}

/// Whether the caller sees every order of the tenant (owners, admins) or
/// only their own.
async fn sees_all(ctx: &Ctx) -> Result<bool, Error> {
    Ok(matches!(
        ctx.caller().await?.role,
        Role::Owner | Role::Admin
    ))
}

/// Loads orders with their lines, in the order of `rows`.
async fn assemble(conn: &mut PgConnection, rows: Vec<OrderRow>) -> Result<Vec<Order>, Error> {
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let lines: Vec<LineRow> = sqlx::query_as(
        "SELECT order_id, product_id, variant_id, option_values, sku, name, unit_amount,
                quantity, line_amount
           FROM order_items WHERE order_id = ANY($1) ORDER BY order_id, position",
    )
    .bind(&ids)
    .fetch_all(conn)
    .await?;
    let mut by_order: BTreeMap<Uuid, Vec<OrderLine>> = BTreeMap::new();
    for row in rows.iter() {
        by_order.insert(row.id, Vec::new());
    }
    let currencies: BTreeMap<Uuid, String> =
        rows.iter().map(|r| (r.id, r.currency.clone())).collect();
    for line in lines {
        let currency = currencies.get(&line.order_id).cloned().unwrap_or_default();
        by_order.entry(line.order_id).or_default().push(OrderLine {
            product_id: line.product_id,
            variant_id: line.variant_id,
            sku: line.sku,
            name: line.name,
            option_values: line.option_values.0,
            unit_price: money::of(line.unit_amount, &currency),
            quantity: line.quantity,
            line_total: money::of(line.line_amount, &currency),
        });
    }
    rows.into_iter()
        .map(|row| {
            let status = OrderStatus::parse(&row.status).ok_or_else(|| {
                Error::internal(anyhow::anyhow!(
                    "order {} has status {:?}",
                    row.id,
                    row.status
                ))
            })?;
            Ok(Order {
                id: row.id,
                number: row.number,
                customer_id: row.customer_id,
                cart_id: row.cart_id,
                status,
                items: by_order.remove(&row.id).unwrap_or_default(),
                subtotal: Some(money::of(row.subtotal_amount, &row.currency)),
                discount_total: Some(money::of(row.discount_amount, &row.currency)),
                promotion_code: row.promotion_code,
                total: money::of(row.total_amount, &row.currency),
                shipping_address: row.shipping_address.map(|a| a.0),
                billing_address: row.billing_address.map(|a| a.0),
                contact_phone: row.contact_phone,
                created_at: row.created_at,
                updated_at: row.updated_at,
            })
        })
        .collect()
}

/// Every order `customer_id` placed, oldest first, with its lines (for
/// `auth.export_me`).
pub async fn of_customer(conn: &mut PgConnection, customer_id: Uuid) -> Result<Vec<Order>, Error> {
    let rows: Vec<OrderRow> = sqlx::query_as(&format!(
        "SELECT {ORDER_COLUMNS} FROM orders WHERE customer_id = $1 ORDER BY id"
    ))
    .bind(customer_id)
    .fetch_all(&mut *conn)
    .await?;
    assemble(conn, rows).await
}

/// The order `id` as the caller may see it (locked when `lock`):
/// `not_found` for another tenant's, and for a member, another member's.
pub async fn find(
    ctx: &Ctx,
    conn: &mut PgConnection,
    id: Uuid,
    lock: bool,
) -> Result<Order, Error> {
    let claims = ctx.claims()?;
    let all = sees_all(ctx).await?;
    let row: Option<OrderRow> = sqlx::query_as(&format!(
        "SELECT {ORDER_COLUMNS} FROM orders WHERE id = $1 AND ($2 OR customer_id = $3){}",
        if lock { " FOR UPDATE" } else { "" }
    ))
    .bind(id)
    .bind(all)
    .bind(claims.sub)
    .fetch_optional(&mut *conn)
    .await?;
    let row = row.ok_or_else(|| Error::not_found("no such order"))?;
    assemble(conn, vec![row])
        .await?
        .pop()
        .ok_or_else(|| Error::not_found("no such order"))
}

/// Whether an order that is `from` may become `to` (contract §5, the
/// order's states): paid or cancelled while pending payment, fulfilled or
/// refunded once paid, refunded once fulfilled; nothing else.
pub fn may_become(from: OrderStatus, to: OrderStatus) -> bool {
    use OrderStatus::*;
    matches!(
        (from, to),
        (PendingPayment, Paid)
            | (PendingPayment, Cancelled)
            | (Paid, Fulfilled)
            | (Paid, Refunded)
            | (Fulfilled, Refunded)
    )
}

/// Moves `order` to `to`, which must be allowed from its state; the order
/// as it is now.
pub async fn transition(
    conn: &mut PgConnection,
    order: Order,
    to: OrderStatus,
    now: DateTime<Utc>,
) -> Result<Order, Error> {
    if !may_become(order.status, to) {
        return Err(Error::invalid_state(
            order.status.as_str(),
            format!(
                "an order that is {} cannot become {}",
                order.status.as_str(),
                to.as_str()
            ),
        ));
    }
    sqlx::query("UPDATE orders SET status = $2, updated_at = $3 WHERE id = $1")
        .bind(order.id)
        .bind(to.as_str())
        .bind(now)
        .execute(conn)
        .await?;
    Ok(Order {
        status: to,
        updated_at: now,
        ..order
    })
}

/// A variant as `orders.create` prices and checks it, locked.
#[derive(sqlx::FromRow)]
struct Variant {
    id: Uuid,
    product_id: Uuid,
    sku: String,
    name: String,
    option_values: sqlx::types::Json<OptionValues>,
    price_amount: i64,
    currency: String,
    stock: i64,
    status: String,
    product_status: String,
    /// Variants of its product.
    siblings: i64,
}

/// One line of a request or a cart, its variant named.
pub(crate) struct Wanted {
    /// The variant: `variant_id`, or the `product_id` of a product with one
    /// variant (its first, which has its id).
    pub id: Uuid,
    /// Whether the line named a product.
    pub by_product: bool,
    pub quantity: i64,
}

impl Wanted {
    fn field(&self, i: usize) -> String {
        let name = if self.by_product {
            "product_id"
        } else {
            "variant_id"
        };
        format!("items[{i}].{name}")
    }
}

/// Handles `commerce.orders.create`.
pub async fn create(ctx: Ctx, request: CreateOrderRequest) -> Result<OrderReply, Error> {
    let mut v = Validation::default();
    if request.items.is_empty() || request.items.len() > MAX_LINES {
        v.add("items", format!("must have 1 to {MAX_LINES} lines"));
    }
    // One line per variant (contract revision 3): a second line of the
    // same variant (or product) is refused, naming it, rather than merged
    // past the quantity bound.
    let mut wanted: Vec<Wanted> = Vec::new();
    for (i, item) in request.items.iter().enumerate() {
        if !(1..=MAX_QUANTITY).contains(&item.quantity) {
            v.add(
                format!("items[{i}].quantity"),
                format!("must be 1 to {MAX_QUANTITY}"),
            );
        }
        let line = match (item.variant_id, item.product_id) {
            (Some(id), None) => Wanted {
                id,
                by_product: false,
                quantity: item.quantity,
            },
            (None, Some(id)) => Wanted {
                id,
                by_product: true,
                quantity: item.quantity,
            },
            _ => {
                v.add_one_of(
                    &format!("items[{i}].variant_id"),
                    &format!("items[{i}].product_id"),
                );
                continue;
            }
        };
        match wanted.iter().position(|w| w.id == line.id) {
            Some(first) => v.add(
                line.field(i),
                format!("names the variant of items[{first}]: one line per variant"),
            ),
            None => wanted.push(line),
        }
    }
    let shipping = request
        .shipping_address
        .as_ref()
        .map(|a| address::parse(&mut v, "shipping_address", a));
    let billing = request
        .billing_address
        .as_ref()
        .map(|a| address::parse(&mut v, "billing_address", a));
    let contact_phone = request
        .contact_phone
        .as_deref()
        .map(|p| v.check("contact_phone", phone::parse(p)));
    v.finish()?;
    let placement = Placement {
        lines: wanted,
        shipping_address: shipping.flatten(),
        billing_address: billing.flatten(),
        contact_phone: contact_phone.flatten(),
        cart_id: None,
        promotion: None,
    };
    let mut tx = ctx.tx().await?;
    let order = place(&ctx, &mut tx, placement).await?;
    Ok(OrderReply { order })
}

/// What an order is placed from: the lines of `orders.create` or of a
/// cart, checked; a cart's promotion.
pub(crate) struct Placement {
    pub lines: Vec<Wanted>,
    pub shipping_address: Option<Address>,
    pub billing_address: Option<Address>,
    pub contact_phone: Option<String>,
    pub cart_id: Option<Uuid>,
    /// Applied to the subtotal, and counted, under its lock: when it no
    /// longer applies, `invalid_state` (`promotion_unavailable`).
    pub promotion: Option<Promotion>,
}

/// The refusal of a promotion that stopped applying at checkout.
pub(crate) fn promotion_unavailable(why: &str) -> Error {
    Error::invalid_state(
        "promotion_unavailable",
        format!("the cart's promotion no longer applies: it {why}; remove it or set another"),
    )
}

/// Places an order in `tx`: prices its lines from their variants as they
/// are now, applies its promotion, reserves the stock of every line or
/// none, counts the promotion's use, and records `order.placed`.
pub(crate) async fn place(
    ctx: &Ctx,
    tx: &mut Tx<'_>,
    placement: Placement,
) -> Result<Order, Error> {
    let claims = ctx.claims()?;
    let now = ctx.now();
    let wanted = placement.lines;
    let mut ids: Vec<Uuid> = wanted.iter().map(|w| w.id).collect();
    ids.sort();
    // Locked together, in id order: concurrent orders queue, never deadlock.
    // First the caller's gate, shared: an order stores the caller's
    // address and phone, and `auth.delete_me` takes the gate exclusively
    // before it erases (`olympus_person_gate`, migration 0028), so an
    // order in flight commits before the erasure reads, and is erased with
    // the rest, or waits for it and finds its caller gone (read below, in a
    // later statement). A lock in memory: concurrent orders of one user
    // share it without writing to the user's row.
    let variants: Vec<Variant> = sqlx::query_as(
        "WITH gate AS MATERIALIZED (SELECT olympus_person_gate_shared($2))
         SELECT v.id, v.product_id, v.sku, p.name, v.option_values, v.price_amount, v.currency,
                v.stock, v.status, p.status AS product_status,
                (SELECT count(*) FROM product_variants w WHERE w.product_id = v.product_id)
                    AS siblings
           FROM gate, product_variants v JOIN products p ON p.id = v.product_id
          WHERE v.id = ANY($1) ORDER BY v.id FOR UPDATE OF v",
    )
    .bind(&ids)
    .bind(claims.sub)
    .fetch_all(&mut **tx)
    .await?;
    let found = |line: &Wanted| {
        variants
            .iter()
            .find(|v| v.id == line.id && (!line.by_product || v.product_id == line.id))
    };
    let mut v = Validation::default();
    let mut short = Vec::new();
    let mut currency: Option<&str> = None;
    for (i, line) in wanted.iter().enumerate() {
        let Some(variant) = found(line) else {
            let (what, key) = if line.by_product {
                ("no such product", "product_id")
            } else {
                ("no such variant", "variant_id")
            };
            return Err(Error::not_found(what).with_detail(key, line.id.to_string()));
        };
        if line.by_product && variant.siblings > 1 {
            v.add(
                line.field(i),
                format!(
                    "names a product of {} variants: name one as variant_id",
                    variant.siblings
                ),
            );
        }
        if variant.status != "active" || variant.product_status != "active" {
            v.add(line.field(i), "is archived");
        }
        match currency {
            None => currency = Some(&variant.currency),
            Some(c) if c != variant.currency => {
                v.add("items", "must all be priced in one currency");
            }
            Some(_) => {}
        }
        if variant.stock < line.quantity {
            short.push(serde_json::json!({
                "product_id": variant.product_id, "variant_id": variant.id,
                "requested": line.quantity, "available": variant.stock,
            }));
        }
    }
    v.finish()?;
    if !short.is_empty() {
        return Err(Error::new(ErrorCode::InsufficientStock)
            .with_message("not enough stock for every line")
            .with_detail("items", short));
    }
    let currency = currency.unwrap_or_default().to_owned();
    let mut lines = Vec::with_capacity(wanted.len());
    let mut subtotal: i64 = 0;
    for line in &wanted {
        let Some(variant) = found(line) else {
            return Err(Error::internal(anyhow::anyhow!(
                "a priced variant vanished"
            )));
        };
        // Bounded: 10^15 per unit at most, 10^4 units, 100 lines.
        let line_total =
            money::times(variant.price_amount, line.quantity).ok_or_else(|| too_large("items"))?;
        subtotal = money::plus(subtotal, line_total).ok_or_else(|| too_large("items"))?;
        lines.push(OrderLine {
            product_id: variant.product_id,
            variant_id: variant.id,
            sku: variant.sku.clone(),
            name: variant.name.clone(),
            option_values: variant.option_values.0.clone(),
            unit_price: money::of(variant.price_amount, &currency),
            quantity: line.quantity,
            line_total: money::of(line_total, &currency),
        });
    }
    // The promotion as the cart showed it; whether it is still active, in
    // its dates and within its limits is decided under its lock, below.
    let discount = match &placement.promotion {
        None => 0,
        Some(promotion) => {
            if let Some(why) =
                promotions::refusal(promotion, subtotal, Some(&currency), now, Usage::Unknown)
            {
                return Err(promotion_unavailable(why));
            }
            promotions::discount_of(promotion, subtotal)
        }
    };
    // The stock taken, the promotion's use counted and the tenant's next
    // number in one statement, last, so that the number and promotion rows
    // are locked only for the next one and the commit; and whether the
    // caller is still a member, read after the gate. A promotion is
    // counted only while active, in its dates and below its limit (checked
    // on its row as it is once locked), and a customer's use only below
    // theirs (on their row, locked by the upsert).
    let promotion = placement.promotion.as_ref();
    // Without a promotion, the statement without its two parts (an order
    // of orders.create pays for no promotion's planning).
    const TAKE: &str = "taken AS (
             UPDATE product_variants v SET stock = v.stock - w.quantity, updated_at = $3
               FROM unnest($1::uuid[], $2::bigint[]) AS w(id, quantity)
              WHERE v.id = w.id)";
    const NUMBER: &str = "INSERT INTO order_numbers (tenant_id, last) VALUES ($4, 1)
         ON CONFLICT (tenant_id) DO UPDATE SET last = order_numbers.last + 1
         RETURNING last, EXISTS (SELECT 1 FROM users WHERE id = $5)";
    static PLAIN: LazyLock<String> = LazyLock::new(|| format!("WITH {TAKE} {NUMBER}"));
    static COUNTING: LazyLock<String> = LazyLock::new(|| {
        format!(
            "WITH {TAKE},
             counted AS (
                 UPDATE promotions p SET times_used = p.times_used + 1
                  WHERE p.id = $6 AND p.status = 'active'
                    AND (p.usage_limit IS NULL OR p.times_used < p.usage_limit)
                    AND (p.starts_at IS NULL OR p.starts_at <= $3)
                    AND (p.ends_at IS NULL OR p.ends_at > $3)
                 RETURNING p.id),
             counted_for_customer AS (
                 INSERT INTO promotion_customer_uses AS u
                        (promotion_id, customer_id, tenant_id, uses)
                 SELECT id, $5, $4, 1 FROM counted
                 ON CONFLICT (promotion_id, customer_id) DO UPDATE SET uses = u.uses + 1
                  WHERE $7::int IS NULL OR u.uses < $7
                 RETURNING 1)
             {NUMBER}, (SELECT count(*) FROM counted),
                       (SELECT count(*) FROM counted_for_customer)"
        )
    });
    let query = sqlx::query(if promotion.is_some() {
        &COUNTING
    } else {
        &PLAIN
    })
    .bind(wanted.iter().map(|w| w.id).collect::<Vec<_>>())
    .bind(wanted.iter().map(|w| w.quantity).collect::<Vec<_>>())
    .bind(now)
    .bind(claims.tid)
    .bind(claims.sub);
    let query = match promotion {
        None => query,
        Some(p) => query
            .bind(p.id)
            .bind(p.per_customer_limit.map(|n| n as i32)),
    };
    let row = query.fetch_one(&mut **tx).await?;
    let (number, present): (i64, bool) = (row.try_get(0)?, row.try_get(1)?);
    if !present {
        // Deleted (`auth.delete_me`) while this order was on its way.
        return Err(Error::new(ErrorCode::Unauthenticated));
    }
    if promotion.is_some() {
        let (counted, counted_for_customer): (i64, i64) = (row.try_get(2)?, row.try_get(3)?);
        if counted == 0 {
            return Err(promotion_unavailable(
                "is disabled, out of its dates or used up",
            ));
        }
        if counted_for_customer == 0 {
            return Err(promotion_unavailable(
                "has been used by you as often as it allows",
            ));
        }
    }
    let total = subtotal - discount;
    let order = Order {
        id: Uuid::now_v7(),
        number,
        customer_id: claims.sub,
        cart_id: placement.cart_id,
        status: OrderStatus::PendingPayment,
        items: lines,
        subtotal: Some(money::of(subtotal, &currency)),
        discount_total: Some(money::of(discount, &currency)),
        promotion_code: promotion.map(|p| p.code.clone()),
        total: money::of(total, &currency),
        shipping_address: placement.shipping_address,
        billing_address: placement.billing_address,
        contact_phone: placement.contact_phone,
        created_at: now,
        updated_at: now,
    };
    let placed = tx.events().prepare(Event::new(
        claims.tid,
        order.id,
        &data::OrderPlaced {
            order: order.clone(),
        },
    ))?;
    insert(tx, claims.tid, &order, promotion.map(|p| p.id), &placed).await?;
    tracing::info!(order_id = %order.id, number, lines = order.items.len(), "order placed");
    Ok(order)
}

fn too_large(field: &str) -> Error {
    Validation::failed(field, ["the order's total is too large"])
}

/// Inserts `order` of `tenant_id` with its lines and records `placed`, in
/// one statement.
async fn insert(
    conn: &mut PgConnection,
    tenant_id: Uuid,
    order: &Order,
    promotion_id: Option<Uuid>,
    placed: &Prepared,
) -> Result<(), Error> {
    let lines = &order.items;
    let mut args = PgArguments::default();
    let added = (|| {
        args.add(order.id)?;
        args.add(tenant_id)?;
        args.add(order.number)?;
        args.add(order.customer_id)?;
        args.add(order.total.currency.as_str())?;
        args.add(order.total.amount)?;
        args.add(order.shipping_address.as_ref().map(sqlx::types::Json))?;
        args.add(order.billing_address.as_ref().map(sqlx::types::Json))?;
        args.add(order.contact_phone.as_deref())?;
        args.add(order.created_at)?;
        args.add((0..lines.len() as i32).collect::<Vec<_>>())?;
        args.add(lines.iter().map(|l| l.product_id).collect::<Vec<_>>())?;
        args.add(lines.iter().map(|l| l.sku.as_str()).collect::<Vec<_>>())?;
        args.add(lines.iter().map(|l| l.name.as_str()).collect::<Vec<_>>())?;
        args.add(
            lines
                .iter()
                .map(|l| l.unit_price.amount)
                .collect::<Vec<_>>(),
        )?;
        args.add(lines.iter().map(|l| l.quantity).collect::<Vec<_>>())?;
        args.add(
            lines
                .iter()
                .map(|l| l.line_total.amount)
                .collect::<Vec<_>>(),
        )?;
        args.add(lines.iter().map(|l| l.variant_id).collect::<Vec<_>>())?;
        args.add(
            lines
                .iter()
                .map(|l| sqlx::types::Json(&l.option_values))
                .collect::<Vec<_>>(),
        )?;
        args.add(order.subtotal.as_ref().map(|m| m.amount))?;
        args.add(order.discount_total.as_ref().map_or(0, |m| m.amount))?;
        args.add(order.cart_id)?;
        args.add(order.promotion_code.as_deref())?;
        args.add(promotion_id)
    })();
    added.map_err(|e| Error::internal(anyhow::anyhow!("binding an order: {e}")))?;
    placed.add_to(&mut args)?;
    // Built once: the outbox call's arguments follow the order's 24.
    static INSERT: LazyLock<String> = LazyLock::new(|| {
        format!(
            "WITH placed AS (
             INSERT INTO orders (id, tenant_id, number, customer_id, status, currency,
                                 total_amount, shipping_address, billing_address,
                                 contact_phone, created_at, updated_at, subtotal_amount,
                                 discount_amount, cart_id, promotion_code, promotion_id)
             VALUES ($1, $2, $3, $4, 'pending_payment', $5, $6, $7, $8, $9, $10, $10, $20,
                     $21, $22, $23, $24)),
         lines AS (
             INSERT INTO order_items (order_id, tenant_id, position, product_id, sku, name,
                                      unit_amount, quantity, line_amount, variant_id,
                                      option_values)
             SELECT $1, $2, l.position, l.product_id, l.sku, l.name, l.unit_amount,
                    l.quantity, l.line_amount, l.variant_id, l.option_values
               FROM unnest($11::int[], $12::uuid[], $13::text[], $14::text[],
                           $15::bigint[], $16::bigint[], $17::bigint[], $18::uuid[],
                           $19::jsonb[])
                 AS l(position, product_id, sku, name, unit_amount, quantity, line_amount,
                      variant_id, option_values))
         SELECT {}",
            Prepared::record_call(25)
        )
    });
    sqlx::query_with(&INSERT, args).execute(conn).await?;
    Ok(())
}

/// Handles `commerce.orders.get`.
pub async fn get(ctx: Ctx, request: IdRequest) -> Result<OrderReply, Error> {
    let mut tx = ctx.tx().await?;
    let order = find(&ctx, &mut tx, request.id, false).await?;
    Ok(OrderReply { order })
}

/// Handles `commerce.orders.list`: newest last (id order), optionally of
/// one status; a member's own orders only.
pub async fn list(ctx: Ctx, request: ListOrdersRequest) -> Result<Page<Order>, Error> {
    let claims = ctx.claims()?;
    let status = request.status.map(OrderStatus::as_str);
    let all = sees_all(&ctx).await?;
    // A member's cursor is theirs: the filter names whose orders it lists.
    let filter = format!(
        "{}|{}",
        status.unwrap_or(""),
        if all {
            "all".to_owned()
        } else {
            claims.sub.to_string()
        }
    );
    let pager = Pager::new(
        &ctx.request().operation,
        claims.tid,
        &filter,
        request.limit,
        request.cursor.as_deref(),
    )?;
    let mut tx = ctx.tx().await?;
    // A statement for each case, each on its index: one with an optional
    // customer read a member's few orders out of all of the tenant's, and
    // one with an optional status read the tenant's orders until a page of
    // a rare status turned up. A member's orders are few: their status
    // filters them.
    let rows: Vec<OrderRow> = match (all, status) {
        (true, None) => {
            sqlx::query_as(&format!(
                "SELECT {ORDER_COLUMNS} FROM orders WHERE id > $1 ORDER BY id LIMIT $2"
            ))
            .bind(pager.after())
            .bind(pager.fetch())
            .fetch_all(&mut *tx)
            .await?
        }
        (true, Some(status)) => {
            sqlx::query_as(&format!(
                "SELECT {ORDER_COLUMNS} FROM orders
                  WHERE status = $3 AND id > $1 ORDER BY id LIMIT $2"
            ))
            .bind(pager.after())
            .bind(pager.fetch())
            .bind(status)
            .fetch_all(&mut *tx)
            .await?
        }
        (false, _) => {
            sqlx::query_as(&format!(
                "SELECT {ORDER_COLUMNS} FROM orders
              WHERE customer_id = $4 AND id > $1 AND ($3::text IS NULL OR status = $3)
              ORDER BY id LIMIT $2"
            ))
            .bind(pager.after())
            .bind(pager.fetch())
            .bind(status)
            .bind(claims.sub)
            .fetch_all(&mut *tx)
            .await?
        }
    };
    let orders = assemble(&mut tx, rows).await?;
    Ok(pager.page(orders, |o| o.id))
}

/// Handles `commerce.orders.cancel`: pending payment only; the stock goes
/// back, unless that would take a product past the maximum (then the
/// cancel is refused as `inventory.adjust` would be, see [`stock`]).
pub async fn cancel(ctx: Ctx, request: IdRequest) -> Result<OrderReply, Error> {
    let now = ctx.now();
    let mut tx = ctx.tx().await?;
    let order = find(&ctx, &mut tx, request.id, true).await?;
    // Money held for it is released first, by `payments.void`.
    let authorized: Option<Uuid> =
        sqlx::query_scalar("SELECT id FROM payments WHERE order_id = $1 AND status = 'authorized'")
            .bind(order.id)
            .fetch_optional(&mut *tx)
            .await?;
    if let Some(payment_id) = authorized {
        return Err(Error::invalid_state(
            order.status.as_str(),
            "the order has an authorized payment: void it first",
        )
        .with_detail("payment_id", payment_id.to_string()));
    }
    let order = transition(&mut tx, order, OrderStatus::Cancelled, now).await?;
    // The variants first, in id order, as orders.create locks them; their
    // units go back only where the stock stays within its bound.
    let restock: Vec<(Uuid, Uuid, i64, i64)> = sqlx::query_as(
        "SELECT v.id, v.product_id, v.stock, i.quantity FROM product_variants v
           JOIN (SELECT variant_id, sum(quantity)::bigint AS quantity FROM order_items
                  WHERE order_id = $1 GROUP BY variant_id) i ON i.variant_id = v.id
          ORDER BY v.id FOR UPDATE OF v",
    )
    .bind(order.id)
    .fetch_all(&mut *tx)
    .await?;
    if let Some((id, product_id, current, quantity)) = restock
        .iter()
        .find(|(_, _, current, quantity)| !stock::fits(*current, *quantity))
    {
        return Err(stock::out_of_range(*product_id, *id, *current, *quantity));
    }
    sqlx::query(
        "UPDATE product_variants v SET stock = v.stock + r.quantity, updated_at = $3
           FROM unnest($1::uuid[], $2::bigint[]) AS r(id, quantity)
          WHERE v.id = r.id",
    )
    .bind(restock.iter().map(|r| r.0).collect::<Vec<_>>())
    .bind(restock.iter().map(|r| r.3).collect::<Vec<_>>())
    .bind(now)
    .execute(&mut *tx)
    .await?;
    // Its promotion's use goes back, in all and for its customer: the
    // promotion's row first (the customer's update reads `back`, so it
    // runs after), in the order a checkout locks them.
    if order.promotion_code.is_some() {
        sqlx::query(
            "WITH used AS (SELECT promotion_id, customer_id FROM orders
                        WHERE id = $1 AND promotion_id IS NOT NULL),
              back AS (UPDATE promotions p SET times_used = p.times_used - 1
                         FROM used WHERE p.id = used.promotion_id
                       RETURNING p.id, used.customer_id)
         UPDATE promotion_customer_uses u SET uses = u.uses - 1
           FROM back WHERE u.promotion_id = back.id AND u.customer_id = back.customer_id",
        )
        .bind(order.id)
        .execute(&mut *tx)
        .await?;
    }
    let cancelled = data::OrderCancelled {
        order: order.clone(),
    };
    tx.emit(order.id, &cancelled).await?;
    Ok(OrderReply { order })
}

/// Handles `commerce.orders.fulfill` (owners, admins): paid orders only.
pub async fn fulfill(ctx: Ctx, request: IdRequest) -> Result<OrderReply, Error> {
    let mut tx = ctx.tx().await?;
    let order = find(&ctx, &mut tx, request.id, true).await?;
    let order = transition(&mut tx, order, OrderStatus::Fulfilled, ctx.now()).await?;
    let fulfilled = data::OrderFulfilled {
        order: order.clone(),
    };
    tx.emit(order.id, &fulfilled).await?;
    Ok(OrderReply { order })
}

#[cfg(test)]
mod tests {
    use super::*;
    use OrderStatus::*;

    /// Every state, from the contract's names.
    fn all() -> Vec<OrderStatus> {
        OrderStatus::NAMES
            .iter()
            .map(|n| OrderStatus::parse(n).unwrap())
            .collect()
    }

    #[test]
    fn an_order_moves_only_along_the_contracts_states() {
        let allowed = [
            (PendingPayment, Paid),
            (PendingPayment, Cancelled),
            (Paid, Fulfilled),
            (Paid, Refunded),
            (Fulfilled, Refunded),
        ];
        for from in all() {
            for to in all() {
                assert_eq!(
                    may_become(from, to),
                    allowed.contains(&(from, to)),
                    "{} -> {}",
                    from.as_str(),
                    to.as_str()
                );
            }
        }
        // Cancelled and refunded are final; nothing stays where it is.
        assert!(all()
            .iter()
            .all(|to| !may_become(Cancelled, *to) && !may_become(Refunded, *to)));
        assert!(all().iter().all(|s| !may_become(*s, *s)));
    }
}
