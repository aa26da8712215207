//! Text fields a caller sends (names, address lines, descriptions): trimmed,
//! a bounded number of characters, no control characters. Every problem is
//! returned, for [`crate::error::Validation::check`].

/// One line: trimmed, `min..=max` characters, no control characters.
pub fn line(raw: &str, min: usize, max: usize) -> Result<String, Vec<String>> {
    checked(raw, min, max, |c| c.is_control())
}

/// Text that may run over several lines: as [`line`], but newlines stay.
pub fn paragraph(raw: &str, min: usize, max: usize) -> Result<String, Vec<String>> {
    checked(raw, min, max, |c| c.is_control() && c != '\n')
}

fn checked(
    raw: &str,
    min: usize,
    max: usize,
    refused: impl Fn(char) -> bool,
) -> Result<String, Vec<String>> {
    let text = raw.trim();
    let length = text.chars().count();
    let mut problems = Vec::new();
    if length < min || length > max {
        problems.push(format!("must be {min} to {max} characters"));
    }
    if text.chars().any(refused) {
        problems.push("must not contain control characters".to_owned());
    }
    if problems.is_empty() {
        Ok(text.to_owned())
    } else {
        Err(problems)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_trimmed_and_bounded() {
        assert_eq!(line("  Acme Inc. ", 1, 100).unwrap(), "Acme Inc.");
        assert!(line("   ", 1, 100).is_err());
        assert!(line(&"x".repeat(101), 1, 100).is_err());
        assert!(line("a\nb", 1, 100).is_err());
        assert_eq!(paragraph("a\nb", 1, 100).unwrap(), "a\nb");
        assert!(paragraph("a\u{7}b", 1, 100).is_err());
        assert_eq!(paragraph("", 0, 10).unwrap(), "");
        assert_eq!(line(&"\u{1}".repeat(300), 1, 100).unwrap_err().len(), 2);
    }
}
