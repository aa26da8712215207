//! Promotions (contract §5 commerce, revision 3): `promotions.create`,
//! `get`, `list` and `update`, for owners and admins.
//!
//! A code is 3 to 32 characters of `A-Z`, `0-9` and `-`, stored upper case
//! and matched case-insensitively, unique per tenant (`conflict` on
//! `code`). A `percentage` takes `percent` (1 to 100) of the subtotal,
//! rounded down to the minor unit ([`discount`]); a `fixed_amount` takes
//! `amount` off, never below zero. A promotion with an `amount` or a
//! `min_subtotal` is of their one currency. `usage_limit` is never
//! exceeded: the table refuses a count past it (migration 0030), and it
//! cannot be lowered below the uses a promotion has.
//!
//! Carts apply a promotion ([`refusal`] says why one does not) and a
//! checkout counts its use (`orders::place`, under the promotion's lock,
//! with the customer's count in `promotion_customer_uses`); cancelling
//! the order gives the use back.

use chrono::{DateTime, Utc};
use olympus_contracts::commerce::{
    CreatePromotionRequest, IdRequest, ListPromotionsRequest, Promotion, PromotionKind,
    PromotionReply, PromotionStatus, UpdatePromotionRequest,
};
use olympus_contracts::event::data;
use olympus_contracts::shapes::Page;
use olympus_runtime::error::{is_unique_violation, Validation};
use olympus_runtime::pages::Pager;
use olympus_runtime::{Ctx, Error};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::money;

const PROMOTION_COLUMNS: &str = "id, code, kind, percent, amount, min_subtotal, currency, \
     starts_at, ends_at, usage_limit, per_customer_limit, times_used, status, created_at, \
     updated_at";

#[derive(Debug, sqlx::FromRow)]
struct PromotionRow {
    id: Uuid,
    code: String,
    kind: String,
    percent: Option<i32>,
    amount: Option<i64>,
    min_subtotal: Option<i64>,
    currency: Option<String>,
    starts_at: Option<DateTime<Utc>>,
    ends_at: Option<DateTime<Utc>>,
    usage_limit: Option<i32>,
    per_customer_limit: Option<i32>,
    times_used: i32,
    status: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl PromotionRow {
    fn into_promotion(self) -> Result<Promotion, Error> {
        let bad = |what: &str| Error::internal(anyhow::anyhow!("promotion {} has {what}", self.id));
        let kind = PromotionKind::parse(&self.kind).ok_or_else(|| bad("an unknown kind"))?;
        let status =
            PromotionStatus::parse(&self.status).ok_or_else(|| bad("an unknown status"))?;
        let currency = self.currency.as_deref().unwrap_or_default();
        let count = |n: i32| u32::try_from(n).map_err(|_| bad("a negative count"));
        Ok(Promotion {
            id: self.id,
            code: self.code.clone(),
            kind,
            percent: self.percent.map(count).transpose()?,
            amount: self.amount.map(|a| money::of(a, currency)),
            min_subtotal: self.min_subtotal.map(|a| money::of(a, currency)),
            starts_at: self.starts_at,
            ends_at: self.ends_at,
            usage_limit: self.usage_limit.map(count).transpose()?,
            per_customer_limit: self.per_customer_limit.map(count).transpose()?,
            times_used: count(self.times_used)?,
            status,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

/// A code as a caller types it, in its stored form: trimmed, upper case,
/// 3 to 32 characters of `A-Z`, `0-9` and `-`.
pub fn code(raw: &str) -> Result<String, Vec<String>> {
    let code = raw.trim().to_ascii_uppercase();
    if (3..=32).contains(&code.len())
        && code
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-')
    {
        Ok(code)
    } else {
        Err(vec![
            "must be 3 to 32 characters of letters A-Z, digits and -".to_owned(),
        ])
    }
}

/// The discount of a promotion of `kind` (`percent`, or `amount` in the
/// subtotal's currency) on `subtotal` minor units: a percentage is the
/// exact share rounded down to the minor unit (15 % of 333 is 49), so it
/// never exceeds the percentage; a fixed amount never takes the subtotal
/// below zero.
pub fn discount(kind: PromotionKind, percent: u32, amount: i64, subtotal: i64) -> i64 {
    match kind {
        PromotionKind::Percentage => {
            let share = i128::from(subtotal) * i128::from(percent.min(100)) / 100;
            i64::try_from(share).unwrap_or(subtotal)
        }
        PromotionKind::FixedAmount => amount.clamp(0, subtotal.max(0)),
    }
}

/// [`discount`] of `promotion` on `subtotal`.
pub fn discount_of(promotion: &Promotion, subtotal: i64) -> i64 {
    discount(
        promotion.kind,
        promotion.percent.unwrap_or(0),
        promotion.amount.as_ref().map_or(0, |a| a.amount),
        subtotal,
    )
}

/// How often the customer has used a promotion, when it is known.
#[derive(Debug, Clone, Copy)]
pub enum Usage {
    /// Read, unlocked: a cart's view.
    Known(u32),
    /// Counted under its lock by the checkout.
    Unknown,
}

/// Why `promotion` does not apply, now, to a subtotal of `subtotal` minor
/// units in `currency` (`None`: an empty cart, of no currency yet), for a
/// customer who used it as `usage` says; `None` when it applies. The words
/// follow "the promotion ...".
pub fn refusal(
    promotion: &Promotion,
    subtotal: i64,
    currency: Option<&str>,
    now: DateTime<Utc>,
    usage: Usage,
) -> Option<&'static str> {
    let own_currency = promotion
        .amount
        .as_ref()
        .or(promotion.min_subtotal.as_ref())
        .map(|m| m.currency.as_str());
    if promotion.status != PromotionStatus::Active {
        return Some("is disabled");
    }
    if promotion.starts_at.is_some_and(|starts| now < starts) {
        return Some("has not started");
    }
    if promotion.ends_at.is_some_and(|ends| now >= ends) {
        return Some("has ended");
    }
    if promotion
        .usage_limit
        .is_some_and(|limit| promotion.times_used >= limit)
    {
        return Some("is used up");
    }
    if let (Usage::Known(uses), Some(limit)) = (usage, promotion.per_customer_limit) {
        if uses >= limit {
            return Some("has been used by you as often as it allows");
        }
    }
    if let (Some(own), Some(currency)) = (own_currency, currency) {
        if own != currency {
            return Some("is in another currency");
        }
    }
    if promotion
        .min_subtotal
        .as_ref()
        .is_some_and(|min| subtotal < min.amount)
    {
        return Some("needs a larger subtotal");
    }
    None
}

/// The promotion of `code` (stored upper case), unlocked.
pub async fn by_code(conn: &mut PgConnection, code: &str) -> Result<Option<Promotion>, Error> {
    let row: Option<PromotionRow> = sqlx::query_as(&format!(
        "SELECT {PROMOTION_COLUMNS} FROM promotions WHERE code = $1"
    ))
    .bind(code)
    .fetch_optional(conn)
    .await?;
    row.map(PromotionRow::into_promotion).transpose()
}

/// How often `customer_id` has used `promotion_id` (orders not cancelled).
pub async fn uses_of(
    conn: &mut PgConnection,
    promotion_id: Uuid,
    customer_id: Uuid,
) -> Result<u32, Error> {
    let uses: Option<i32> = sqlx::query_scalar(
        "SELECT uses FROM promotion_customer_uses WHERE promotion_id = $1 AND customer_id = $2",
    )
    .bind(promotion_id)
    .bind(customer_id)
    .fetch_optional(conn)
    .await?;
    Ok(uses.map_or(0, |n| n.max(0) as u32))
}

/// Handles `commerce.promotions.create`.
pub async fn create(ctx: Ctx, request: CreatePromotionRequest) -> Result<PromotionReply, Error> {
    let claims = ctx.claims()?;
    let mut v = Validation::default();
    let code = v.check("code", code(&request.code));
    match (request.kind, request.percent, &request.amount) {
        (PromotionKind::Percentage, Some(percent), None) => {
            if !(1..=100).contains(&percent) {
                v.add("percent", "must be 1 to 100");
            }
        }
        (PromotionKind::Percentage, percent, amount) => {
            if percent.is_none() {
                v.add("percent", "a percentage gives percent, 1 to 100");
            }
            if amount.is_some() {
                v.add("amount", "a percentage gives no amount");
            }
        }
        (PromotionKind::FixedAmount, None, Some(_)) => {}
        (PromotionKind::FixedAmount, percent, amount) => {
            if amount.is_none() {
                v.add("amount", "a fixed amount gives amount");
            }
            if percent.is_some() {
                v.add("percent", "a fixed amount gives no percent");
            }
        }
    }
    let amount = request
        .amount
        .as_ref()
        .and_then(|a| v.check("amount", money::parse(a, false)));
    let min_subtotal = request
        .min_subtotal
        .as_ref()
        .and_then(|m| v.check("min_subtotal", money::parse(m, true)));
    if let (Some(amount), Some(min)) = (&amount, &min_subtotal) {
        if amount.currency != min.currency {
            v.add("min_subtotal", "must be in the amount's currency");
        }
    }
    if let (Some(starts), Some(ends)) = (request.starts_at, request.ends_at) {
        if ends <= starts {
            v.add("ends_at", "must be after starts_at");
        }
    }
    let limit = |v: &mut Validation, field: &str, value: Option<u32>| -> Option<i32> {
        let value = value?;
        match i32::try_from(value) {
            Ok(n) if n >= 1 => Some(n),
            _ => {
                v.add(field, format!("must be 1 to {}", i32::MAX));
                None
            }
        }
    };
    let usage_limit = limit(&mut v, "usage_limit", request.usage_limit);
    let per_customer_limit = limit(&mut v, "per_customer_limit", request.per_customer_limit);
    v.finish()?;
    let Some(code) = code else {
        return Err(Error::internal(anyhow::anyhow!(
            "validation passed with a missing value"
        )));
    };
    let currency = amount
        .as_ref()
        .or(min_subtotal.as_ref())
        .map(|m| m.currency.clone());
    let now = ctx.now();
    let mut tx = ctx.tx().await?;
    let row: PromotionRow = sqlx::query_as(&format!(
        "INSERT INTO promotions (id, tenant_id, code, kind, percent, amount, min_subtotal,
                                 currency, starts_at, ends_at, usage_limit, per_customer_limit,
                                 status, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 'active', $13, $13)
         RETURNING {PROMOTION_COLUMNS}"
    ))
    .bind(Uuid::now_v7())
    .bind(claims.tid)
    .bind(&code)
    .bind(request.kind.as_str())
    .bind(request.percent.map(|p| p as i32))
    .bind(amount.as_ref().map(|a| a.amount))
    .bind(min_subtotal.as_ref().map(|m| m.amount))
    .bind(currency)
    .bind(request.starts_at)
    .bind(request.ends_at)
    .bind(usage_limit)
    .bind(per_customer_limit)
    .bind(now)
    .fetch_one(&mut *tx)
    .await
    .map_err(|e| {
        if is_unique_violation(&e, "promotions_tenant_code_key") {
            Error::conflict("code")
        } else {
            Error::from(e)
        }
    })?;
    let promotion = row.into_promotion()?;
    let created = data::PromotionCreated {
        promotion: promotion.clone(),
    };
    tx.emit(promotion.id, &created).await?;
    Ok(PromotionReply { promotion })
}

/// The promotion `id` of the connection's tenant, locked when `lock`.
async fn find(conn: &mut PgConnection, id: Uuid, lock: bool) -> Result<Promotion, Error> {
    let row: Option<PromotionRow> = sqlx::query_as(&format!(
        "SELECT {PROMOTION_COLUMNS} FROM promotions WHERE id = $1{}",
        if lock { " FOR UPDATE" } else { "" }
    ))
    .bind(id)
    .fetch_optional(conn)
    .await?;
    row.ok_or_else(|| Error::not_found("no such promotion"))?
        .into_promotion()
}

/// Handles `commerce.promotions.get`.
pub async fn get(ctx: Ctx, request: IdRequest) -> Result<PromotionReply, Error> {
    let mut tx = ctx.tx().await?;
    let promotion = find(&mut tx, request.id, false).await?;
    Ok(PromotionReply { promotion })
}

/// Handles `commerce.promotions.list`: by id (creation order), optionally
/// of one status.
pub async fn list(ctx: Ctx, request: ListPromotionsRequest) -> Result<Page<Promotion>, Error> {
    let claims = ctx.claims()?;
    let status = request.status.map(PromotionStatus::as_str);
    let pager = Pager::new(
        &ctx.request().operation,
        claims.tid,
        status.unwrap_or(""),
        request.limit,
        request.cursor.as_deref(),
    )?;
    let rows: Vec<PromotionRow> = sqlx::query_as(&format!(
        "SELECT {PROMOTION_COLUMNS} FROM promotions
          WHERE id > $1 AND ($3::text IS NULL OR status = $3)
          ORDER BY id LIMIT $2"
    ))
    .bind(pager.after())
    .bind(pager.fetch())
    .bind(status)
    .fetch_all(&mut *ctx.tx().await?)
    .await?;
    pager.page_of(rows, PromotionRow::into_promotion, |p| p.id)
}

/// Handles `commerce.promotions.update`: its status, end and usage limit;
/// absent fields stay.
pub async fn update(ctx: Ctx, request: UpdatePromotionRequest) -> Result<PromotionReply, Error> {
    let mut tx = ctx.tx().await?;
    let current = find(&mut tx, request.id, true).await?;
    let mut v = Validation::default();
    let ends_at = request.ends_at.unwrap_or(current.ends_at);
    if let (Some(starts), Some(Some(ends))) = (current.starts_at, request.ends_at) {
        if ends <= starts {
            v.add("ends_at", "must be after starts_at");
        }
    }
    let usage_limit = request.usage_limit.unwrap_or(current.usage_limit);
    let usage_limit = match usage_limit.map(i32::try_from) {
        None => None,
        Some(Ok(limit)) if limit >= 1 && i64::from(limit) >= i64::from(current.times_used) => {
            Some(limit)
        }
        Some(_) => {
            v.add(
                "usage_limit",
                format!(
                    "must be at least 1 and the uses it has ({}), at most {}",
                    current.times_used,
                    i32::MAX
                ),
            );
            None
        }
    };
    v.finish()?;
    let row: PromotionRow = sqlx::query_as(&format!(
        "UPDATE promotions SET status = $2, ends_at = $3, usage_limit = $4, updated_at = $5
          WHERE id = $1 RETURNING {PROMOTION_COLUMNS}"
    ))
    .bind(current.id)
    .bind(request.status.unwrap_or(current.status).as_str())
    .bind(ends_at)
    .bind(usage_limit)
    .bind(ctx.now())
    .fetch_one(&mut *tx)
    .await?;
    let promotion = row.into_promotion()?;
    let updated = data::PromotionUpdated {
        promotion: promotion.clone(),
    };
    tx.emit(promotion.id, &updated).await?;
    Ok(PromotionReply { promotion })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_percentage_rounds_down_and_a_fixed_amount_stops_at_zero() {
        // 15 % of 3.33 EUR is 0.4995: 0.49.
        assert_eq!(discount(PromotionKind::Percentage, 15, 0, 333), 49);
        assert_eq!(discount(PromotionKind::Percentage, 100, 0, 333), 333);
        assert_eq!(discount(PromotionKind::Percentage, 1, 0, 99), 0);
        assert_eq!(
            discount(PromotionKind::Percentage, 50, 0, i64::MAX),
            i64::MAX / 2
        );
        assert_eq!(discount(PromotionKind::FixedAmount, 0, 500, 333), 333);
        assert_eq!(discount(PromotionKind::FixedAmount, 0, 100, 333), 100);
        for subtotal in [0, 1, 7, 333, 1_000_000_007] {
            for percent in 1..=100 {
                let off = discount(PromotionKind::Percentage, percent, 0, subtotal);
                assert!(
                    off * 100 <= subtotal * i64::from(percent),
                    "{percent}% of {subtotal}"
                );
                assert!((off + 1) * 100 > subtotal * i64::from(percent));
            }
        }
    }

    #[test]
    fn codes_are_upper_case_letters_digits_and_dashes() {
        assert_eq!(code(" summer-25 ").unwrap(), "SUMMER-25");
        for bad in [
            "ab",
            "x".repeat(33).as_str(),
            "SUMMER 25",
            "ÉTÉ-25",
            "A_B_C",
        ] {
            assert!(code(bad).is_err(), "{bad}");
        }
    }
}
