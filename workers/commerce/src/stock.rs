//! Stock on hand: one bound, kept the same way by every path that changes
//! it.
//!
//! A variant holds 0 to [`MAX_STOCK`] units. A change that would take its
//! stock below zero or above the maximum is refused, whichever operation
//! makes it (`inventory.adjust`, `orders.cancel` giving units back, an order
//! taking them), with one error ([`out_of_range`]): `invalid_state`, naming
//! the current stock. Below zero is `details.state: insufficient_stock`,
//! above the maximum `stock_limit`. Each change is one conditional
//! statement ([`CHANGE_FITS`]), so concurrent changes queue on the row and
//! none can pass the bound; the table's `CHECK (stock >= 0)` stands behind
//! the lower one. A decrease is never refused for the upper bound, so stock
//! that ever exceeded it can always be brought down.

use olympus_runtime::Error;
use uuid::Uuid;

/// The most units a product may hold.
pub const MAX_STOCK: i64 = 1_000_000_000;

/// The SQL condition under which `stock` may change by `change`: written
/// into every statement that changes stock, with `{stock}` and `{change}`
/// replaced by its column and its change, and `{max}` by [`MAX_STOCK`].
const CHANGE_FITS: &str =
    "({stock} + {change} >= 0 AND ({change} <= 0 OR {stock} + {change} <= {max}))";

/// [`CHANGE_FITS`] for the column `stock` and the SQL expression `change`.
pub fn change_fits(stock: &str, change: &str) -> String {
    CHANGE_FITS
        .replace("{stock}", stock)
        .replace("{change}", change)
        .replace("{max}", &MAX_STOCK.to_string())
}

/// The stock a new product starts with: 0 to [`MAX_STOCK`].
pub fn initial(value: i64) -> Result<i64, Vec<String>> {
    if (0..=MAX_STOCK).contains(&value) {
        Ok(value)
    } else {
        Err(vec![format!("must be 0 to {MAX_STOCK}")])
    }
}

/// A change an operator asks for: non-zero, at most [`MAX_STOCK`] either
/// way (so that no arithmetic on it can overflow).
pub fn delta(value: i64) -> Result<i64, Vec<String>> {
    if value != 0 && (-MAX_STOCK..=MAX_STOCK).contains(&value) {
        Ok(value)
    } else {
        Err(vec![format!(
            "must be non-zero, at most {MAX_STOCK} either way"
        )])
    }
}

/// Whether `stock` may change by `change` (as [`CHANGE_FITS`] says).
pub fn fits(stock: i64, change: i64) -> bool {
    let after = i128::from(stock) + i128::from(change);
    after >= 0 && (change <= 0 || after <= i128::from(MAX_STOCK))
}

/// The refusal of a change of the stock of `variant_id` (of `product_id`),
/// now `stock`, by `change`.
pub fn out_of_range(product_id: Uuid, variant_id: Uuid, stock: i64, change: i64) -> Error {
    let state = if i128::from(stock) + i128::from(change) < 0 {
        "insufficient_stock"
    } else {
        "stock_limit"
    };
    Error::invalid_state(
        state,
        format!("the stock is {stock}: it cannot change by {change} (it stays 0 to {MAX_STOCK})"),
    )
    .with_detail("product_id", product_id.to_string())
    .with_detail("variant_id", variant_id.to_string())
    .with_detail("stock", stock)
    .with_detail("max_stock", MAX_STOCK)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_fits_between_zero_and_the_maximum() {
        assert!(fits(0, 5) && fits(5, -5) && fits(MAX_STOCK - 1, 1));
        assert!(!fits(0, -1) && !fits(MAX_STOCK, 1) && !fits(4, -5));
        // Stock past the maximum may always come down, never go further up.
        assert!(fits(MAX_STOCK + 10, -1) && !fits(MAX_STOCK + 10, 1));
        assert!(!fits(i64::MAX, 1) && !fits(0, i64::MIN));
    }

    #[test]
    fn a_delta_is_bounded_without_overflow() {
        for bad in [
            0,
            i64::MIN,
            i64::MIN + 1,
            -MAX_STOCK - 1,
            MAX_STOCK + 1,
            i64::MAX,
        ] {
            assert!(delta(bad).is_err(), "{bad}");
        }
        assert_eq!(delta(-MAX_STOCK), Ok(-MAX_STOCK));
    }

    #[test]
    fn the_sql_condition_names_its_column_and_change() {
        assert_eq!(
            change_fits("p.stock", "$2"),
            "(p.stock + $2 >= 0 AND ($2 <= 0 OR p.stock + $2 <= 1000000000))"
        );
    }
}
