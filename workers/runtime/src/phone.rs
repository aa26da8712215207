//! Phone numbers (contract §4): E.164, validated against libphonenumber's
//! metadata (country calling code, length and number ranges per country),
//! stored and returned normalized (`+4930123456`).

/// Longest input looked at: E.164 has at most 15 digits, and a few
/// separators are forgiven.
const MAX_INPUT: usize = 32;

/// Parses a phone number given in international form (`+`, country code,
/// number; spaces, dashes, dots and parentheses are ignored) and returns
/// its E.164 form, or what is wrong with it.
pub fn parse(raw: &str) -> Result<String, Vec<String>> {
    let raw = raw.trim();
    let invalid =
        || vec!["must be a valid phone number in E.164 form, e.g. +4930123456".to_owned()];
    if raw.len() > MAX_INPUT
        || !raw.starts_with('+')
        || !raw[1..]
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, ' ' | '-' | '.' | '(' | ')'))
    {
        return Err(invalid());
    }
    let number = phonenumber::parse(None, raw).map_err(|_| invalid())?;
    if !phonenumber::is_valid(&number) {
        return Err(invalid());
    }
    Ok(number.format().mode(phonenumber::Mode::E164).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_numbers_come_back_in_e164() {
        assert_eq!(parse("+4930123456").unwrap(), "+4930123456");
        assert_eq!(parse(" +49 30 1234-5678 ").unwrap(), "+493012345678");
        assert_eq!(parse("+1 (415) 555-2671").unwrap(), "+14155552671");
        assert_eq!(parse("+442071838750").unwrap(), "+442071838750");
    }

    #[test]
    fn invalid_numbers_are_refused() {
        for bad in [
            "",
            "+",
            "4930123456",
            "+999123456789",
            "+49",
            "+1 415 555 26711234",
            "+49 30 abc",
            "+4930\n123456",
            &format!("+49{}", "1".repeat(40)),
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }
}
