//! `olympus bench --op checkout`: `commerce.carts.checkout` of carts of 3
//! lines with a 10 % promotion, then, as its floor, the same statements
//! as bare SQL transactions on the request role, from as many callers.
//!
//! Every checkout closes its cart, so the carts are made first, unmeasured
//! (`carts.create`, three `carts.items.set`, `carts.update` with the code,
//! through the workers): one per measured checkout and one per floor
//! transaction.

use anyhow::Context;
use olympus_contracts::commerce::{
    CartReply, CheckoutRequest, CreateProductRequest, CreatePromotionRequest, Money, ProductReply,
    PromotionKind, PromotionReply, SetCartItemRequest, UpdateCartRequest,
};
use olympus_contracts::operation;
use olympus_contracts::shapes::Empty;
use olympus_contracts::tenant::CreateTenantReply;
use std::sync::Arc;
use std::time::Instant;
use uuid::Uuid;

use crate::run::{report_throughput, run_callers, BenchArgs, Client, Request};

const CODE: &str = "BENCH-10";

/// Runs the checkouts, then the floor, and reports both.
pub(crate) async fn bench_checkout(
    client: &Client,
    args: &BenchArgs,
    signup: &CreateTenantReply,
) -> anyhow::Result<()> {
    let token = signup.tokens.access_token.expose();
    let mut variants = Vec::new();
    for (i, price) in [1999, 499, 1250].into_iter().enumerate() {
        let product: ProductReply = client
            .call(
                operation::COMMERCE_PRODUCTS_CREATE,
                Some(token),
                &CreateProductRequest {
                    sku: format!("BENCH-CART-{i}"),
                    name: format!("Bench product {i}"),
                    description: None,
                    price: Money {
                        amount: price,
                        currency: "EUR".into(),
                    },
                    stock: Some(1_000_000_000),
                },
            )
            .await
            .context("creating the bench products")?;
        variants.push(product.product.id);
    }
    let promotion: PromotionReply = client
        .call(
            operation::COMMERCE_PROMOTIONS_CREATE,
            Some(token),
            &ten_percent_off(CODE),
        )
        .await
        .context("creating the bench promotion")?;

    let started = Instant::now();
    let carts = carts(
        client,
        args.concurrency,
        token,
        &variants,
        CODE,
        args.requests * 2,
    )
    .await?;
    println!(
        "{} carts of 3 lines with {CODE} made in {:.1}s (unmeasured)",
        carts.len(),
        started.elapsed().as_secs_f64()
    );
    let (measured, floor) = carts.split_at(args.requests);
    let pool = Arc::new(std::sync::Mutex::new(measured.to_vec()));
    let content_type = client.content_type;
    let (elapsed, samples) = run_callers(args.load(), {
        let client = client.clone();
        let token = token.to_owned();
        move |_| {
            let client = client.clone();
            let pool = Arc::clone(&pool);
            let token = token.clone();
            async move {
                let cart_id = take(&pool)?;
                let request = Request::new(
                    operation::COMMERCE_CARTS_CHECKOUT,
                    Some(&token),
                    &CheckoutRequest {
                        cart_id,
                        payment_method: None,
                    },
                    content_type,
                    true,
                )?;
                client.send(&request).await
            }
        }
    })
    .await?;
    println!(
        "carts.checkout x{} from {} callers in {:.2}s, {:?}",
        samples.len(),
        args.concurrency,
        elapsed.as_secs_f64(),
        args.encoding(),
    );
    let checkouts = report_throughput("carts.checkout", samples, Some(elapsed));

    let db = olympus_runtime::Db::connect(
        args.database_url(),
        args.app_database_url(),
        u32::try_from(args.concurrency.min(32)).unwrap_or(32),
        false,
    )
    .await?;
    let floor_carts = Arc::new(std::sync::Mutex::new(floor.to_vec()));
    let ids = Ids {
        tenant: signup.tenant.id,
        customer: signup.owner.id,
        promotion: promotion.promotion.id,
    };
    let (elapsed, samples) = run_callers(args.load(), {
        let db = db.clone();
        move |_| {
            let db = db.clone();
            let pool = Arc::clone(&floor_carts);
            async move {
                let cart_id = take(&pool)?;
                let started = Instant::now();
                bare_checkout(&db, ids, cart_id).await?;
                anyhow::Ok((started.elapsed(), true))
            }
        }
    })
    .await?;
    println!(
        "bare SQL checkout transactions x{} from {} callers in {:.2}s",
        samples.len(),
        args.concurrency,
        elapsed.as_secs_f64(),
    );
    let bare = report_throughput("bare SQL", samples, Some(elapsed));
    println!(
        "checkout throughput / bare SQL throughput: {:.2}",
        checkouts / bare
    );
    db.close().await;
    Ok(())
}

/// A cart made before, for one checkout.
pub(crate) fn take(pool: &std::sync::Mutex<Vec<Uuid>>) -> anyhow::Result<Uuid> {
    pool.lock()
        .unwrap_or_else(|e| e.into_inner())
        .pop()
        .context("no cart left")
}

/// The benches' promotion: 10 % off with `code`, no limits.
pub(crate) fn ten_percent_off(code: &str) -> CreatePromotionRequest {
    CreatePromotionRequest {
        code: code.into(),
        kind: PromotionKind::Percentage,
        percent: Some(10),
        amount: None,
        min_subtotal: None,
        starts_at: None,
        ends_at: None,
        usage_limit: None,
        per_customer_limit: None,
    }
}

/// `count` carts of `token`'s, each with one unit of every variant and
/// the promotion `code`, made by `concurrency` callers.
pub(crate) async fn carts(
    client: &Client,
    concurrency: usize,
    token: &str,
    variants: &[Uuid],
    code: &str,
    count: usize,
) -> anyhow::Result<Vec<Uuid>> {
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let makers: Vec<_> = (0..concurrency)
        .map(|_| {
            let client = client.clone();
            let token = token.to_owned();
            let code = code.to_owned();
            let variants = variants.to_vec();
            let next = Arc::clone(&next);
            tokio::spawn(async move {
                let mut made = Vec::new();
                while next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) < count {
                    let cart: CartReply = client
                        .call(operation::COMMERCE_CARTS_CREATE, Some(&token), &Empty {})
                        .await?;
                    let cart_id = cart.cart.id;
                    for variant_id in &variants {
                        let _: CartReply = client
                            .call(
                                operation::COMMERCE_CARTS_ITEMS_SET,
                                Some(&token),
                                &SetCartItemRequest {
                                    cart_id,
                                    variant_id: *variant_id,
                                    quantity: 1,
                                },
                            )
                            .await?;
                    }
                    let _: CartReply = client
                        .call(
                            operation::COMMERCE_CARTS_UPDATE,
                            Some(&token),
                            &UpdateCartRequest {
                                cart_id,
                                shipping_address: None,
                                billing_address: None,
                                contact_phone: None,
                                promotion_code: Some(Some(code.clone())),
                            },
                        )
                        .await?;
                    made.push(cart_id);
                }
                anyhow::Ok(made)
            })
        })
        .collect();
    let mut carts = Vec::with_capacity(count);
    for maker in makers {
        carts.extend(maker.await??);
    }
    Ok(carts)
}

/// What the floor's transactions name.
#[derive(Debug, Clone, Copy)]
struct Ids {
    tenant: Uuid,
    customer: Uuid,
    promotion: Uuid,
}

/// One checkout's statements as `carts.checkout` sends them, as plain SQL
/// in a tenant transaction, without anything else the worker does
/// (decoding, validation, pricing, building the events): the scope with
/// `BEGIN`, the cart locked, its lines read with their variants, the
/// promotion and the customer's uses of it read, the customer's gate and
/// the variants locked in id order, the stock taken with the tenant's next
/// number and the promotion counted, the order with its lines and its
/// outbox row, the cart closed, its event's outbox row, and the commit.
async fn bare_checkout(db: &olympus_runtime::Db, ids: Ids, cart_id: Uuid) -> anyhow::Result<()> {
    let now = chrono::Utc::now();
    let order_id = Uuid::now_v7();
    let mut tx = db.tenant(ids.tenant).await?;
    sqlx::query("SELECT id FROM carts WHERE id = $1 AND customer_id = $2 FOR UPDATE")
        .bind(cart_id)
        .bind(ids.customer)
        .execute(&mut *tx)
        .await?;
    let lines: Vec<(Uuid, i64, i64)> = sqlx::query_as(
        "SELECT i.variant_id, v.price_amount, i.quantity
           FROM cart_items i JOIN product_variants v ON v.id = i.variant_id
                JOIN products p ON p.id = v.product_id
          WHERE i.cart_id = $1 ORDER BY i.position",
    )
    .bind(cart_id)
    .fetch_all(&mut *tx)
    .await?;
    sqlx::query("SELECT id, percent FROM promotions WHERE code = $1")
        .bind(CODE)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "SELECT uses FROM promotion_customer_uses WHERE promotion_id = $1 AND customer_id = $2",
    )
    .bind(ids.promotion)
    .bind(ids.customer)
    .execute(&mut *tx)
    .await?;
    let mut variant_ids: Vec<Uuid> = lines.iter().map(|l| l.0).collect();
    variant_ids.sort();
    sqlx::query(
        "WITH gate AS MATERIALIZED (SELECT olympus_person_gate_shared($2))
         SELECT v.id, v.stock FROM gate, product_variants v
          WHERE v.id = ANY($1) ORDER BY v.id FOR UPDATE OF v",
    )
    .bind(&variant_ids)
    .bind(ids.customer)
    .execute(&mut *tx)
    .await?;
    let (number,): (i64,) = sqlx::query_as(
        "WITH taken AS (
             UPDATE product_variants v SET stock = v.stock - w.quantity, updated_at = $3
               FROM unnest($1::uuid[], $2::bigint[]) AS w(id, quantity)
              WHERE v.id = w.id),
         counted AS (
             UPDATE promotions p SET times_used = p.times_used + 1 WHERE p.id = $5
             RETURNING p.id),
         counted_for_customer AS (
             INSERT INTO promotion_customer_uses AS u (promotion_id, customer_id, tenant_id, uses)
             SELECT id, $6, $4, 1 FROM counted
             ON CONFLICT (promotion_id, customer_id) DO UPDATE SET uses = u.uses + 1)
         INSERT INTO order_numbers (tenant_id, last) VALUES ($4, 1)
         ON CONFLICT (tenant_id) DO UPDATE SET last = order_numbers.last + 1
         RETURNING last",
    )
    .bind(lines.iter().map(|l| l.0).collect::<Vec<_>>())
    .bind(lines.iter().map(|l| l.2).collect::<Vec<_>>())
    .bind(now)
    .bind(ids.tenant)
    .bind(ids.promotion)
    .bind(ids.customer)
    .fetch_one(&mut *tx)
    .await?;
    let subtotal: i64 = lines.iter().map(|l| l.1 * l.2).sum();
    let discount = subtotal / 10;
    sqlx::query(
        "WITH placed AS (
             INSERT INTO orders (id, tenant_id, number, customer_id, status, currency,
                                 total_amount, subtotal_amount, discount_amount, cart_id,
                                 promotion_code, promotion_id, created_at, updated_at)
             VALUES ($1, $2, $3, $4, 'pending_payment', 'EUR', $5, $6, $7, $8, $9, $10, $11,
                     $11)),
         lines AS (
             INSERT INTO order_items (order_id, tenant_id, position, product_id, variant_id,
                                      option_values, sku, name, unit_amount, quantity,
                                      line_amount)
             SELECT $1, $2, l.position, l.id, l.id, '{}', 'BENCH', 'Bench product', l.price,
                    l.quantity, l.price * l.quantity
               FROM unnest($12::int[], $13::uuid[], $14::bigint[], $15::bigint[])
                 AS l(position, id, price, quantity))
         INSERT INTO outbox (id, tenant_id, aggregate_id, kind, subject, correlation_id, payload,
                             published_at)
         VALUES ($16, $2, $1, 'event', 'bench.floor', 'bench', $17, now())",
    )
    .bind(order_id)
    .bind(ids.tenant)
    .bind(number)
    .bind(ids.customer)
    .bind(subtotal - discount)
    .bind(subtotal)
    .bind(discount)
    .bind(cart_id)
    .bind(CODE)
    .bind(ids.promotion)
    .bind(now)
    .bind((0..lines.len() as i32).collect::<Vec<_>>())
    .bind(lines.iter().map(|l| l.0).collect::<Vec<_>>())
    .bind(lines.iter().map(|l| l.1).collect::<Vec<_>>())
    .bind(lines.iter().map(|l| l.2).collect::<Vec<_>>())
    .bind(Uuid::now_v7())
    .bind(vec![b'{'; 1200])
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "UPDATE carts SET status = 'checked_out', order_id = $2, updated_at = $3 WHERE id = $1",
    )
    .bind(cart_id)
    .bind(order_id)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO outbox (id, tenant_id, aggregate_id, kind, subject, correlation_id, payload,
                             published_at)
         VALUES ($1, $2, $3, 'event', 'bench.floor', 'bench', $4, now())",
    )
    .bind(Uuid::now_v7())
    .bind(ids.tenant)
    .bind(cart_id)
    .bind(vec![b'{'; 400])
    .execute(&mut *tx)
    .await?;
    // The floor is bare SQL, as an application without Olympus's runtime
    // would commit.
    #[expect(clippy::disallowed_methods, reason = "the bare-SQL floor")]
    tx.commit().await?;
    Ok(())
}
