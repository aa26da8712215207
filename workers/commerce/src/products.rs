//! The catalog: `products.create`, `get`, `list`, `update` and
//! `inventory.adjust`. SKUs are unique per tenant (`conflict` on `sku`).
//! Every handler works in the request's transaction ([`Ctx::tx`]), so the
//! idempotent ones store their reply with their change.
//!
//! [`Ctx::tx`]: olympus_runtime::Ctx::tx

use chrono::{DateTime, Utc};
use olympus_contracts::commerce::{
    AdjustInventoryRequest, CreateProductRequest, IdRequest, ListProductsRequest, Product,
    ProductReply, ProductStatus, UpdateProductRequest,
};
use olympus_contracts::event::data;
use olympus_contracts::shapes::Page;
use olympus_runtime::error::is_unique_violation;
use olympus_runtime::error::Validation;
use olympus_runtime::pages::Pager;
use olympus_runtime::{text, Ctx, Error};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::{money, stock};

/// The columns of [`ProductRow`].
pub const PRODUCT_COLUMNS: &str =
    "id, sku, name, description, price_amount, currency, stock, status, created_at, updated_at";

/// A `products` row.
#[derive(Debug, sqlx::FromRow)]
pub struct ProductRow {
    pub id: Uuid,
    pub sku: String,
    pub name: String,
    pub description: String,
    pub price_amount: i64,
    pub currency: String,
    pub stock: i64,
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl ProductRow {
    /// The contract's product shape.
    pub fn into_product(self) -> Result<Product, Error> {
        let status = ProductStatus::parse(&self.status).ok_or_else(|| {
            Error::internal(anyhow::anyhow!(
                "product {} has status {:?}",
                self.id,
                self.status
            ))
        })?;
        Ok(Product {
            id: self.id,
            sku: self.sku,
            name: self.name,
            description: self.description,
            price: money::of(self.price_amount, &self.currency),
            stock: self.stock,
            status,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

fn sku(raw: &str) -> Result<String, Vec<String>> {
    let sku = raw.trim();
    if sku.is_empty() || sku.len() > 64 || !sku.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(vec![
            "must be 1 to 64 printable ASCII characters without spaces".to_owned(),
        ]);
    }
    Ok(sku.to_owned())
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
    let mut tx = ctx.tx().await?;
    let row: ProductRow = sqlx::query_as(&format!(
        "INSERT INTO products (id, tenant_id, sku, name, description, price_amount, currency, stock,
                               status, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'active', $9, $9)
         RETURNING {PRODUCT_COLUMNS}"
    ))
    .bind(Uuid::now_v7())
    .bind(claims.tid)
    .bind(&sku)
    .bind(&name)
    .bind(&description)
    .bind(price.amount)
    .bind(&price.currency)
    .bind(stock)
    .bind(now)
    .fetch_one(&mut *tx)
    .await
    .map_err(|e| {
        if is_unique_violation(&e, "products_tenant_sku_key") {
            Error::conflict("sku")
        } else {
            Error::from(e)
        }
    })?;
    let product = row.into_product()?;
    let product_created = data::ProductCreated {
        product: product.clone(),
    };
    tx.emit(product.id, &product_created).await?;
    Ok(ProductReply { product })
}

/// The product `id` of the connection's tenant, locked when `lock`.
pub async fn find(conn: &mut PgConnection, id: Uuid, lock: bool) -> Result<Product, Error> {
    let row: Option<ProductRow> = sqlx::query_as(&format!(
        "SELECT {PRODUCT_COLUMNS} FROM products WHERE id = $1{}",
        if lock { " FOR UPDATE" } else { "" }
    ))
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
/// one status, optionally matching `q` in name or SKU.
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
    let rows: Vec<ProductRow> = sqlx::query_as(&format!(
        "SELECT {PRODUCT_COLUMNS} FROM products
          WHERE id > $1 AND ($3::text IS NULL OR status = $3)
            AND ($4::text IS NULL OR name ILIKE $4 OR sku ILIKE $4)
          ORDER BY id LIMIT $2"
    ))
    .bind(pager.after())
    .bind(pager.fetch())
    .bind(status)
    .bind(pattern)
    .fetch_all(&mut *tx)
    .await?;
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
    let row: ProductRow = sqlx::query_as(&format!(
        "UPDATE products
            SET name = $2, description = $3, price_amount = $4, currency = $5, status = $6,
                updated_at = $7
          WHERE id = $1 RETURNING {PRODUCT_COLUMNS}"
    ))
    .bind(current.id)
    .bind(name.unwrap_or(current.name))
    .bind(description.unwrap_or(current.description))
    .bind(price.as_ref().map_or(current.price.amount, |p| p.amount))
    .bind(price.map_or(current.price.currency, |p| p.currency))
    .bind(request.status.unwrap_or(current.status).as_str())
    .bind(ctx.now())
    .fetch_one(&mut *tx)
    .await?;
    let product = row.into_product()?;
    let product_updated = data::ProductUpdated {
        product: product.clone(),
    };
    tx.emit(product.id, &product_updated).await?;
    Ok(ProductReply { product })
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
    // One conditional statement: concurrent adjustments and orders queue
    // on the row, and none takes the stock out of its bounds.
    let row: Option<ProductRow> = sqlx::query_as(&format!(
        "UPDATE products SET stock = stock + $2, updated_at = $3
          WHERE id = $1 AND {}
      RETURNING {PRODUCT_COLUMNS}",
        stock::change_fits("stock", "$2")
    ))
    .bind(request.product_id)
    .bind(delta)
    .bind(ctx.now())
    .fetch_optional(&mut *tx)
    .await?;
    let Some(row) = row else {
        let current = find(&mut tx, request.product_id, false).await?;
        return Err(stock::out_of_range(current.id, current.stock, delta));
    };
    let product = row.into_product()?;
    let inventory_adjusted = data::InventoryAdjusted {
        product_id: product.id,
        sku: product.sku.clone(),
        delta,
        stock: product.stock,
        reason,
    };
    tx.emit(product.id, &inventory_adjusted).await?;
    Ok(ProductReply { product })
}
