//! The catalog: `products.create`, `get`, `list`, `update` and
//! `inventory.adjust`. SKUs are unique per tenant (`conflict` on `sku`).
//! Every handler works in the request's transaction ([`Ctx::tx`]), so the
//! idempotent ones store their reply with their change.
//!
//! [`Ctx::tx`]: olympus_runtime::Ctx::tx

use chrono::{DateTime, Utc};
use olympus_contracts::commerce::{
    AdjustInventoryRequest, CreateProductRequest, IdRequest, ListProductsRequest, Money,
    OptionValues, Product, ProductOption, ProductReply, ProductStatus, UpdateProductRequest,
    Variant,
};
use olympus_contracts::event::data;
use olympus_contracts::shapes::Page;
use olympus_runtime::error::is_unique_violation;
use olympus_runtime::error::Validation;
use olympus_runtime::pages::Pager;
use olympus_runtime::{text, Ctx, Error};
use serde::Deserialize;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::{money, stock};

/// A product with its variants, as [`ProductRow`]s: the first variant (the
/// product's id) first, then the others in the order they were added.
pub const PRODUCT_SELECT: &str = "SELECT p.id, p.sku, p.name, p.description, p.status,
        p.created_at, p.updated_at,
        (SELECT jsonb_agg(jsonb_build_object(
                    'id', v.id, 'sku', v.sku, 'option_values', v.option_values,
                    'price_amount', v.price_amount, 'currency', v.currency, 'stock', v.stock,
                    'status', v.status)
                ORDER BY v.id <> p.id, v.id)
           FROM product_variants v WHERE v.product_id = p.id) AS variants
   FROM products p";

/// A `products` row with its variants.
#[derive(Debug, sqlx::FromRow)]
pub struct ProductRow {
    pub id: Uuid,
    pub sku: String,
    pub name: String,
    pub description: String,
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub variants: Option<sqlx::types::Json<Vec<VariantRow>>>,
}

/// A `product_variants` row as [`PRODUCT_SELECT`] gives it.
#[derive(Debug, Clone, Deserialize)]
pub struct VariantRow {
    pub id: Uuid,
    pub sku: String,
    pub option_values: OptionValues,
    pub price_amount: i64,
    pub currency: String,
    pub stock: i64,
    pub status: String,
}

fn status(value: &str, what: Uuid) -> Result<ProductStatus, Error> {
    ProductStatus::parse(value)
        .ok_or_else(|| Error::internal(anyhow::anyhow!("{what} has status {value:?}")))
}

impl VariantRow {
    /// The contract's variant shape.
    pub fn into_variant(self) -> Result<Variant, Error> {
        Ok(Variant {
            status: status(&self.status, self.id)?,
            price: money::of(self.price_amount, &self.currency),
            id: self.id,
            sku: self.sku,
            option_values: self.option_values,
            stock: self.stock,
        })
    }
}

impl ProductRow {
    /// The contract's product shape: its price and stock are its first
    /// variant's, its options those its variants use.
    pub fn into_product(self) -> Result<Product, Error> {
        let variants = self
            .variants
            .map(|v| v.0)
            .unwrap_or_default()
            .into_iter()
            .map(VariantRow::into_variant)
            .collect::<Result<Vec<_>, _>>()?;
        let first = variants
            .first()
            .filter(|v| v.id == self.id)
            .ok_or_else(|| {
                Error::internal(anyhow::anyhow!("product {} has no first variant", self.id))
            })?;
        Ok(Product {
            status: status(&self.status, self.id)?,
            price: first.price.clone(),
            stock: first.stock,
            options: options(&variants),
            id: self.id,
            sku: self.sku,
            name: self.name,
            description: self.description,
            created_at: self.created_at,
            updated_at: self.updated_at,
            variants,
        })
    }
}

/// The option names `variants` use, each with its values in the order
/// the variants first use them.
pub fn options(variants: &[Variant]) -> Vec<ProductOption> {
    let mut options: Vec<ProductOption> = Vec::new();
    for variant in variants {
        for (name, value) in &variant.option_values {
            match options.iter_mut().find(|o| &o.name == name) {
                Some(option) if option.values.contains(value) => {}
                Some(option) => option.values.push(value.clone()),
                None => options.push(ProductOption {
                    name: name.clone(),
                    values: vec![value.clone()],
                }),
            }
        }
    }
    options
}

pub(crate) fn sku(raw: &str) -> Result<String, Vec<String>> {
    let sku = raw.trim();
    if sku.is_empty() || sku.len() > 64 || !sku.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(vec![
            "must be 1 to 64 printable ASCII characters without spaces".to_owned(),
        ]);
    }
    Ok(sku.to_owned())
}

/// `conflict` on `sku` for a SKU taken by another product or variant.
pub(crate) fn sku_taken(e: sqlx::Error) -> Error {
    if is_unique_violation(&e, "product_variants_tenant_sku_key")
        || is_unique_violation(&e, "products_tenant_sku_key")
    {
        Error::conflict("sku")
    } else {
        Error::from(e)
    }
}

/// Handles `commerce.products.create`.
pub async fn create(ctx: Ctx, request: CreateProductRequest) -> Result<ProductReply, Error> {
    let claims = ctx.claims()?;
    let mut v = Validation::default();
    let sku = v.check("sku", sku(&request.sku));
    let name = v.check("name", text::paragraph(&request.name, 1, 200));
    let description = v.check(
        "description",
        text::paragraph(request.description.as_deref().unwrap_or(""), 0, 5000),
    );
    let price = v.check("price", money::parse(&request.price, true));
    let stock = v.check("stock", stock::initial(request.stock.unwrap_or(0)));
    v.finish()?;
    let (Some(sku), Some(name), Some(description), Some(price), Some(stock)) =
        (sku, name, description, price, stock)
    else {
        return Err(Error::internal(anyhow::anyhow!(
            "validation passed with a missing value"
        )));
    };
    let now = ctx.now();
    let id = Uuid::now_v7();
    let mut tx = ctx.tx().await?;
    // The product and its first variant, which has the product's id.
    sqlx::query(
        "WITH product AS (
             INSERT INTO products (id, tenant_id, sku, name, description, status, created_at,
                                   updated_at)
             VALUES ($1, $2, $3, $4, $5, 'active', $8, $8) RETURNING id)
         INSERT INTO product_variants (id, tenant_id, product_id, sku, option_values,
                                       price_amount, currency, stock, status, created_at,
                                       updated_at)
         SELECT id, $2, id, $3, '{}'::jsonb, $6, $7, $9, 'active', $8, $8 FROM product",
    )
    .bind(id)
    .bind(claims.tid)
    .bind(&sku)
    .bind(&name)
    .bind(&description)
    .bind(price.amount)
    .bind(&price.currency)
    .bind(now)
    .bind(stock)
    .execute(&mut *tx)
    .await
    .map_err(sku_taken)?;
    let first = Variant {
        id,
        sku: sku.clone(),
        option_values: OptionValues::new(),
        price: price.clone(),
        stock,
        status: ProductStatus::Active,
    };
    let product = Product {
        id,
        sku,
        name,
        description,
        price,
        stock,
        status: ProductStatus::Active,
        created_at: now,
        updated_at: now,
        options: Vec::new(),
        variants: vec![first],
    };
    let product_created = data::ProductCreated {
        product: product.clone(),
    };
    tx.emit(product.id, &product_created).await?;
    Ok(ProductReply { product })
}

/// The product `id` of the connection's tenant with its variants, its row
/// locked first when `lock` (every change of a product's variants but their
/// stock holds it: `products.update`, `products.variants.*`).
pub async fn find(conn: &mut PgConnection, id: Uuid, lock: bool) -> Result<Product, Error> {
    if lock {
        // Locked first, read after, in a statement of its own: a statement
        // that waits for the lock reads the rows it did not lock as they
        // were when it began (READ COMMITTED), so the variants another
        // request added or changed under the lock would be missed.
        sqlx::query("SELECT 1 FROM products WHERE id = $1 FOR UPDATE")
            .bind(id)
            .execute(&mut *conn)
            .await?;
    }
    let row: Option<ProductRow> = sqlx::query_as(&format!("{PRODUCT_SELECT} WHERE p.id = $1"))
        .bind(id)
        .fetch_optional(conn)
        .await?;
    row.ok_or_else(|| Error::not_found("no such product"))?
        .into_product()
}

/// Handles `commerce.products.get`.
pub async fn get(ctx: Ctx, request: IdRequest) -> Result<ProductReply, Error> {
    let mut tx = ctx.tx().await?;
    let product = find(&mut tx, request.id, false).await?;
    Ok(ProductReply { product })
}

/// Handles `commerce.products.list`: by id (creation order), optionally of
/// one status, optionally matching `q` in the name or a SKU (the product's
/// or a variant's).
pub async fn list(ctx: Ctx, request: ListProductsRequest) -> Result<Page<Product>, Error> {
    let claims = ctx.claims()?;
    let status = request.status.map(ProductStatus::as_str);
    let q = match request.q.as_deref().map(str::trim) {
        Some(q) if q.chars().count() > 100 => {
            return Err(Validation::failed("q", ["must be at most 100 characters"]));
        }
        Some("") | None => None,
        Some(q) => Some(q.to_owned()),
    };
    let filter = format!("{}|{}", status.unwrap_or(""), q.as_deref().unwrap_or(""));
    let pager = Pager::new(
        &ctx.request().operation,
        claims.tid,
        &filter,
        request.limit,
        request.cursor.as_deref(),
    )?;
    // `q` matches literally: LIKE's wildcards in it are escaped.
    let pattern = q.map(|q| {
        let escaped = q
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        format!("%{escaped}%")
    });
    let mut tx = ctx.tx().await?;
    let rows: Vec<ProductRow> = match (pattern, status) {
        // A statement without the status and one with it, each on its
        // index: with an optional status, a page of a rare one read the
        // tenant's products until it turned up.
        (None, None) => {
            sqlx::query_as(&format!(
                "{PRODUCT_SELECT} WHERE p.id > $1 ORDER BY p.id LIMIT $2"
            ))
            .bind(pager.after())
            .bind(pager.fetch())
            .fetch_all(&mut *tx)
            .await?
        }
        (None, Some(status)) => {
            sqlx::query_as(&format!(
                "{PRODUCT_SELECT} WHERE p.status = $3 AND p.id > $1 ORDER BY p.id LIMIT $2"
            ))
            .bind(pager.after())
            .bind(pager.fetch())
            .bind(status)
            .fetch_all(&mut *tx)
            .await?
        }
        // On the trigram indexes or in id order, whichever suits the term
        // (migrations/0034_product_search.sql).
        (Some(pattern), status) => {
            sqlx::query_as(&format!(
                "{PRODUCT_SELECT}
                  WHERE p.id = ANY (ARRAY(SELECT olympus_product_search($4, $1, $3, $2)))
                  ORDER BY p.id LIMIT $2"
            ))
            .bind(pager.after())
            .bind(pager.fetch())
            .bind(status)
            .bind(pattern)
            .fetch_all(&mut *tx)
            .await?
        }
    };
    pager.page_of(rows, ProductRow::into_product, |p| p.id)
}

/// Handles `commerce.products.update`.
pub async fn update(ctx: Ctx, request: UpdateProductRequest) -> Result<ProductReply, Error> {
    let mut v = Validation::default();
    let name = request
        .name
        .as_deref()
        .and_then(|raw| v.check("name", text::paragraph(raw, 1, 200)));
    let description = request
        .description
        .as_deref()
        .and_then(|raw| v.check("description", text::paragraph(raw, 0, 5000)));
    let price = request
        .price
        .as_ref()
        .and_then(|p| v.check("price", money::parse(p, true)));
    v.finish()?;
    let mut tx = ctx.tx().await?;
    let current = find(&mut tx, request.id, true).await?;
    if let Some(price) = &price {
        same_currency(&current, current.id, price)?;
    }
    let now = ctx.now();
    sqlx::query(
        "UPDATE products SET name = $2, description = $3, status = $4, updated_at = $5
          WHERE id = $1",
    )
    .bind(current.id)
    .bind(name.unwrap_or(current.name))
    .bind(description.unwrap_or(current.description))
    .bind(request.status.unwrap_or(current.status).as_str())
    .bind(now)
    .execute(&mut *tx)
    .await?;
    if let Some(price) = price {
        // The product's price is its first variant's.
        set_price(&mut tx, current.id, &price, now).await?;
    }
    let product = find(&mut tx, current.id, false).await?;
    let product_updated = data::ProductUpdated {
        product: product.clone(),
    };
    tx.emit(product.id, &product_updated).await?;
    Ok(ProductReply { product })
}

/// `validation_failed` on `price` unless `price` is in the currency of
/// `product`'s variants other than `variant_id` (any currency when it has
/// no other): one product, one currency.
pub fn same_currency(product: &Product, variant_id: Uuid, price: &Money) -> Result<(), Error> {
    match product.variants.iter().find(|v| v.id != variant_id) {
        Some(other) if other.price.currency != price.currency => Err(Validation::failed(
            "price",
            [format!(
                "must be in the currency of the product's other variants, {}",
                other.price.currency
            )],
        )),
        _ => Ok(()),
    }
}

async fn set_price(
    conn: &mut PgConnection,
    variant_id: Uuid,
    price: &Money,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    sqlx::query(
        "UPDATE product_variants SET price_amount = $2, currency = $3, updated_at = $4
          WHERE id = $1",
    )
    .bind(variant_id)
    .bind(price.amount)
    .bind(&price.currency)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// Handles `commerce.inventory.adjust`: the stock stays 0 to the maximum
/// ([`stock`]).
pub async fn adjust(ctx: Ctx, request: AdjustInventoryRequest) -> Result<ProductReply, Error> {
    let mut v = Validation::default();
    let delta = v.check("delta", stock::delta(request.delta));
    let reason = request
        .reason
        .as_deref()
        .and_then(|raw| v.check("reason", text::paragraph(raw, 1, 200)));
    v.finish()?;
    let Some(delta) = delta else {
        return Err(Error::internal(anyhow::anyhow!(
            "validation passed with a missing value"
        )));
    };
    let mut tx = ctx.tx().await?;
    let variant_id = variant_of(
        &mut tx,
        request.variant_id,
        request.product_id,
        "variant_id",
        "product_id",
    )
    .await?;
    // One conditional statement: concurrent adjustments and orders queue
    // on the row, and none takes the stock out of its bounds.
    let changed: Option<(Uuid, String, i64)> = sqlx::query_as(&format!(
        "UPDATE product_variants SET stock = stock + $2, updated_at = $3
          WHERE id = $1 AND {}
      RETURNING product_id, sku, stock",
        stock::change_fits("stock", "$2")
    ))
    .bind(variant_id)
    .bind(delta)
    .bind(ctx.now())
    .fetch_optional(&mut *tx)
    .await?;
    let Some((product_id, sku, after)) = changed else {
        let current: Option<(Uuid, i64)> =
            sqlx::query_as("SELECT product_id, stock FROM product_variants WHERE id = $1")
                .bind(variant_id)
                .fetch_optional(&mut *tx)
                .await?;
        return Err(match current {
            Some((product_id, current)) => {
                stock::out_of_range(product_id, variant_id, current, delta)
            }
            None => Error::not_found("no such variant"),
        });
    };
    let product = find(&mut tx, product_id, false).await?;
    let inventory_adjusted = data::InventoryAdjusted {
        product_id,
        variant_id: Some(variant_id),
        sku,
        delta,
        stock: after,
        reason,
    };
    tx.emit(product_id, &inventory_adjusted).await?;
    Ok(ProductReply { product })
}

/// The variant a request names: `variant_id`, or `product_id` of a product
/// with one variant (its first, which has its id). Exactly one of the two
/// (`validation_failed` naming both otherwise); `validation_failed` on the
/// product field for a product with several variants; `not_found` for a
/// product that does not exist (a variant that does not, its caller finds).
pub async fn variant_of(
    conn: &mut PgConnection,
    variant_id: Option<Uuid>,
    product_id: Option<Uuid>,
    variant_field: &str,
    product_field: &str,
) -> Result<Uuid, Error> {
    match (variant_id, product_id) {
        (Some(id), None) => Ok(id),
        (None, Some(id)) => {
            let variants: i64 =
                sqlx::query_scalar("SELECT count(*) FROM product_variants WHERE product_id = $1")
                    .bind(id)
                    .fetch_one(conn)
                    .await?;
            match variants {
                0 => {
                    Err(Error::not_found("no such product")
                        .with_detail("product_id", id.to_string()))
                }
                1 => Ok(id),
                n => Err(Validation::failed(
                    product_field,
                    [format!(
                        "names a product of {n} variants: name one as {variant_field}"
                    )],
                )),
            }
        }
        _ => Err(Validation::one_of(variant_field, product_field)),
    }
}
