//! `commerce.products.variants.create` and `products.variants.update`
//! (contract §5, revision 3): a product's variants, each one combination of
//! option values with its own SKU, price and stock.
//!
//! The rules, checked while the product's row is held (`FOR UPDATE`), so
//! that two variants added at once are checked one after the other:
//! - 1 to 3 options per variant, names and values of 1 to 40 characters
//!   (trimmed, no control characters), at most [`MAX_VALUES`] distinct
//!   values per option across the product, at most [`MAX_VARIANTS`]
//!   variants per product;
//! - every variant with option values names the same options as the
//!   product's others (`validation_failed` on `option_values` otherwise);
//! - one combination, one variant (`conflict` on `option_values`), and a
//!   SKU unique per tenant across products and variants (`conflict` on
//!   `sku`), both kept by unique indexes (migration 0029);
//! - one currency per product: a variant's price is in the currency of the
//!   product's other variants (`validation_failed` on `price`), so that a
//!   product's variants can share a cart or an order.

use olympus_contracts::commerce::{
    CreateVariantRequest, OptionValues, ProductReply, UpdateVariantRequest, Variant,
};
use olympus_contracts::event::data;
use olympus_runtime::error::{is_unique_violation, Validation};
use olympus_runtime::{text, Ctx, Error};
use uuid::Uuid;

use crate::products::{self, find, same_currency};
use crate::{money, stock};

/// Variants per product.
pub const MAX_VARIANTS: usize = 100;
/// Options per variant.
pub const MAX_OPTIONS: usize = 3;
/// Distinct values of one option across a product's variants.
pub const MAX_VALUES: usize = 20;

/// Option values as a request gives them: 1 to [`MAX_OPTIONS`] names, each
/// name and value one line of 1 to 40 characters, names distinct once
/// trimmed.
fn option_values(raw: &OptionValues) -> Result<OptionValues, Vec<String>> {
    if raw.is_empty() || raw.len() > MAX_OPTIONS {
        return Err(vec![format!("must name 1 to {MAX_OPTIONS} options")]);
    }
    let mut values = OptionValues::new();
    let mut problems = Vec::new();
    for (name, value) in raw {
        match (text::line(name, 1, 40), text::line(value, 1, 40)) {
            (Ok(name), Ok(value)) => {
                if values.insert(name.clone(), value).is_some() {
                    problems.push(format!("names the option {name:?} twice"));
                }
            }
            (name_problems, value_problems) => {
                for problem in name_problems.err().into_iter().flatten() {
                    problems.push(format!("an option name {problem}"));
                }
                for problem in value_problems.err().into_iter().flatten() {
                    problems.push(format!("the value of {name:?} {problem}"));
                }
            }
        }
    }
    if problems.is_empty() {
        Ok(values)
    } else {
        Err(problems)
    }
}

/// Handles `commerce.products.variants.create`.
pub async fn create(ctx: Ctx, request: CreateVariantRequest) -> Result<ProductReply, Error> {
    let claims = ctx.claims()?;
    let mut v = Validation::default();
    let sku = v.check("sku", products::sku(&request.sku));
    let values = v.check("option_values", option_values(&request.option_values));
    let price = v.check("price", money::parse(&request.price, true));
    let stock = v.check("stock", stock::initial(request.stock.unwrap_or(0)));
    v.finish()?;
    let (Some(sku), Some(values), Some(price), Some(stock)) = (sku, values, price, stock) else {
        return Err(Error::internal(anyhow::anyhow!(
            "validation passed with a missing value"
        )));
    };
    let now = ctx.now();
    let mut tx = ctx.tx().await?;
    // Held: variants of one product are added one after the other.
    let product = find(&mut tx, request.product_id, true).await?;
    let mut v = Validation::default();
    if product.variants.len() >= MAX_VARIANTS {
        v.add(
            "product_id",
            format!("has {MAX_VARIANTS} variants, the most a product may have"),
        );
    }
    let named: Vec<&OptionValues> = product
        .variants
        .iter()
        .map(|variant| &variant.option_values)
        .filter(|values| !values.is_empty())
        .collect();
    if let Some(other) = named.first() {
        if !other.keys().eq(values.keys()) {
            v.add(
                "option_values",
                format!(
                    "must name the options of the product's other variants: {}",
                    other.keys().cloned().collect::<Vec<_>>().join(", ")
                ),
            );
        }
    }
    for option in products::options(&product.variants) {
        let new = values
            .get(&option.name)
            .is_some_and(|value| !option.values.contains(value));
        if new && option.values.len() >= MAX_VALUES {
            v.add(
                "option_values",
                format!(
                    "{:?} has {MAX_VALUES} values, the most an option may have",
                    option.name
                ),
            );
        }
    }
    v.finish()?;
    same_currency(&product, Uuid::nil(), &price)?;
    let id = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO product_variants (id, tenant_id, product_id, sku, option_values,
                                       price_amount, currency, stock, status, created_at,
                                       updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'active', $9, $9)",
    )
    .bind(id)
    .bind(claims.tid)
    .bind(product.id)
    .bind(&sku)
    .bind(sqlx::types::Json(&values))
    .bind(price.amount)
    .bind(&price.currency)
    .bind(stock)
    .bind(now)
    .execute(&mut *tx)
    .await
    .map_err(|e| {
        if is_unique_violation(&e, "product_variants_combination_key") {
            Error::conflict("option_values")
        } else {
            products::sku_taken(e)
        }
    })?;
    let variant = Variant {
        id,
        sku,
        option_values: values,
        price,
        stock,
        status: olympus_contracts::commerce::ProductStatus::Active,
    };
    let created = data::ProductVariantCreated {
        product_id: product.id,
        variant,
    };
    tx.emit(product.id, &created).await?;
    let product = find(&mut tx, product.id, false).await?;
    tracing::info!(product_id = %product.id, variant_id = %id, "variant added");
    Ok(ProductReply { product })
}

/// Handles `commerce.products.variants.update`: its price (in the
/// product's currency) and status; absent fields stay.
pub async fn update(ctx: Ctx, request: UpdateVariantRequest) -> Result<ProductReply, Error> {
    let mut v = Validation::default();
    let price = request
        .price
        .as_ref()
        .and_then(|p| v.check("price", money::parse(p, true)));
    v.finish()?;
    let mut tx = ctx.tx().await?;
    let product_id: Option<Uuid> =
        sqlx::query_scalar("SELECT product_id FROM product_variants WHERE id = $1")
            .bind(request.id)
            .fetch_optional(&mut *tx)
            .await?;
    let product_id = product_id.ok_or_else(|| Error::not_found("no such variant"))?;
    // Held, as when a variant is added.
    let product = find(&mut tx, product_id, true).await?;
    let Some(current) = product.variants.iter().find(|v| v.id == request.id) else {
        return Err(Error::not_found("no such variant"));
    };
    if let Some(price) = &price {
        same_currency(&product, current.id, price)?;
    }
    let price = price.unwrap_or_else(|| current.price.clone());
    let status = request.status.unwrap_or(current.status);
    sqlx::query(
        "UPDATE product_variants SET price_amount = $2, currency = $3, status = $4, updated_at = $5
          WHERE id = $1",
    )
    .bind(current.id)
    .bind(price.amount)
    .bind(&price.currency)
    .bind(status.as_str())
    .bind(ctx.now())
    .execute(&mut *tx)
    .await?;
    let product = find(&mut tx, product_id, false).await?;
    let Some(variant) = product
        .variants
        .iter()
        .find(|v| v.id == request.id)
        .cloned()
    else {
        return Err(Error::internal(anyhow::anyhow!(
            "an updated variant vanished"
        )));
    };
    let updated = data::ProductVariantUpdated {
        product_id,
        variant,
    };
    tx.emit(product_id, &updated).await?;
    Ok(ProductReply { product })
}
