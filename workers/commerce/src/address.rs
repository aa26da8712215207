//! Addresses (contract §4): `country` an ISO 3166-1 alpha-2 code checked
//! against the real list (the `iso_country` crate), other fields 1-200
//! characters, `postal_code` 1-20; all trimmed, no control characters.

use olympus_contracts::commerce::Address;
use olympus_runtime::error::Validation;
use olympus_runtime::text;
use std::str::FromStr;

/// Checks `address`, recording problems under `{field}.{part}`; the
/// address trimmed and normalized (country upper case) when it is valid.
pub fn parse(v: &mut Validation, field: &str, address: &Address) -> Option<Address> {
    let mut line = |part: &str, value: &str, max: usize| {
        v.check(&format!("{field}.{part}"), text::line(value, 1, max))
    };
    let name = line("name", &address.name, 200);
    let line1 = line("line1", &address.line1, 200);
    // `Some(None)`: given but invalid; `None`: not given.
    let line2 = address.line2.as_deref().map(|l| line("line2", l, 200));
    let city = line("city", &address.city, 200);
    let region = address.region.as_deref().map(|r| line("region", r, 200));
    let postal_code = line("postal_code", &address.postal_code, 20);
    let country = v.check(&format!("{field}.country"), country(&address.country));
    Some(Address {
        name: name?,
        line1: line1?,
        line2: line2.map(|l| l.ok_or(())).transpose().ok()?,
        city: city?,
        region: region.map(|r| r.ok_or(())).transpose().ok()?,
        postal_code: postal_code?,
        country: country?,
    })
}

fn country(code: &str) -> Result<String, Vec<String>> {
    let code = code.trim().to_ascii_uppercase();
    match iso_country::Country::from_str(&code) {
        Ok(_) if code.len() == 2 => Ok(code),
        _ => Err(vec![
            "must be an ISO 3166-1 alpha-2 country code, e.g. DE".to_owned()
        ]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn address(country: &str, postal_code: &str) -> Address {
        Address {
            name: " Ada Lovelace ".into(),
            line1: "12 St James's Square".into(),
            line2: None,
            city: "London".into(),
            region: Some("Greater London".into()),
            postal_code: postal_code.into(),
            country: country.into(),
        }
    }

    #[test]
    fn countries_are_real_alpha_2_codes() {
        let mut v = Validation::default();
        let parsed = parse(&mut v, "shipping_address", &address("gb", "SW1Y 4JU")).unwrap();
        assert!(v.finish().is_ok());
        assert_eq!(parsed.country, "GB");
        assert_eq!(parsed.name, "Ada Lovelace");
        for bad in ["XX", "GBR", "", "U"] {
            let mut v = Validation::default();
            assert!(parse(&mut v, "a", &address(bad, "1")).is_none(), "{bad}");
        }
        let mut v = Validation::default();
        assert!(parse(&mut v, "a", &address("DE", &"1".repeat(21))).is_none());
        assert!(v.finish().is_err());
    }
}
