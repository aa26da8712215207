//! Money: integer minor units and an ISO 4217 currency, checked against
//! the real currency list with each currency's minor-unit exponent
//! (the `iso_currency` crate); never a float. Sums and products are
//! checked: an overflow is a validation failure, never a wrapped amount.

use olympus_contracts::commerce::Money;

/// The largest amount accepted anywhere (10^15 minor units: ten trillion
/// euros), far from `i64::MAX` so that sums of 100 lines cannot overflow.
pub const MAX_AMOUNT: i64 = 1_000_000_000_000_000;

/// A currency code: a real ISO 4217 currency that has a minor unit (not
/// gold, not special drawing rights), upper case.
pub fn parse_currency(code: &str) -> Result<String, Vec<String>> {
    match iso_currency::Currency::from_code(code) {
        Some(currency) if currency.exponent().is_some() => Ok(currency.code().to_owned()),
        _ => Err(vec![
            "must be an ISO 4217 currency code with a minor unit, e.g. EUR".to_owned(),
        ]),
    }
}

/// A price or an amount: `0..=MAX_AMOUNT` minor units (`1..` unless
/// `zero_ok`) of a real currency.
pub fn parse(money: &Money, zero_ok: bool) -> Result<Money, Vec<String>> {
    let mut problems = Vec::new();
    let least = i64::from(!zero_ok);
    if !(least..=MAX_AMOUNT).contains(&money.amount) {
        problems.push(format!(
            "amount must be {least} to {MAX_AMOUNT} minor units of the currency"
        ));
    }
    let currency = match parse_currency(&money.currency) {
        Ok(code) => Some(code),
        Err(mut more) => {
            problems.append(&mut more);
            None
        }
    };
    match currency {
        Some(currency) if problems.is_empty() => Ok(Money {
            amount: money.amount,
            currency,
        }),
        _ => Err(problems),
    }
}

/// `amount` of `currency`.
pub fn of(amount: i64, currency: &str) -> Money {
    Money {
        amount,
        currency: currency.to_owned(),
    }
}

/// `price` times `quantity`, or `None` past [`MAX_AMOUNT`].
pub fn times(price: i64, quantity: i64) -> Option<i64> {
    price
        .checked_mul(quantity)
        .filter(|t| (0..=MAX_AMOUNT).contains(t))
}

/// `a` plus `b`, or `None` past [`MAX_AMOUNT`].
pub fn plus(a: i64, b: i64) -> Option<i64> {
    a.checked_add(b).filter(|t| (0..=MAX_AMOUNT).contains(t))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn currencies_come_from_iso_4217_with_their_minor_units() {
        assert_eq!(parse_currency("EUR").unwrap(), "EUR");
        assert_eq!(parse_currency("JPY").unwrap(), "JPY");
        assert_eq!(parse_currency("BHD").unwrap(), "BHD");
        assert!(parse_currency("eur").is_err());
        assert!(parse_currency("XAU").is_err(), "gold has no minor unit");
        assert!(parse_currency("ABC").is_err());
        assert!(parse_currency("").is_err());
    }

    #[test]
    fn amounts_are_bounded_integers() {
        assert!(parse(&of(0, "EUR"), true).is_ok());
        assert!(parse(&of(0, "EUR"), false).is_err());
        assert!(parse(&of(-1, "EUR"), true).is_err());
        assert!(parse(&of(MAX_AMOUNT + 1, "EUR"), true).is_err());
        assert_eq!(parse(&of(-5, "XXX"), true).unwrap_err().len(), 2);
    }

    #[test]
    fn products_and_sums_stop_at_the_bound_and_never_wrap() {
        assert_eq!(times(1_999, 3), Some(5_997));
        assert_eq!(times(MAX_AMOUNT, 1), Some(MAX_AMOUNT));
        assert_eq!(times(MAX_AMOUNT, 2), None);
        assert_eq!(times(i64::MAX, 2), None, "an overflow is no amount");
        assert_eq!(times(i64::MIN, -1), None);
        assert_eq!(times(0, 10_000), Some(0));
        assert_eq!(plus(MAX_AMOUNT - 1, 1), Some(MAX_AMOUNT));
        assert_eq!(plus(MAX_AMOUNT, 1), None);
        assert_eq!(plus(i64::MAX, 1), None);
    }
}
