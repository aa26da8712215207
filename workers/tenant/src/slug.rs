//! [`Slug`]: a tenant's name in URLs and logins.

/// Slugs no tenant may take.
pub const RESERVED: &[&str] = &["platform"];

/// 3-63 characters of `[a-z0-9-]`, not starting or ending with `-`, not
/// reserved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slug(String);

impl Slug {
    /// Parses a slug; every broken rule is listed.
    pub fn parse(raw: &str) -> Result<Self, Vec<String>> {
        let mut problems = Vec::new();
        let length = raw.chars().count();
        if !(3..=63).contains(&length) {
            problems.push("must be 3 to 63 characters".to_owned());
        }
        if !raw
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            problems.push("may contain only a-z, 0-9 and -".to_owned());
        }
        if raw.starts_with('-') || raw.ends_with('-') {
            problems.push("must not start or end with -".to_owned());
        }
        if RESERVED.contains(&raw) {
            problems.push("is reserved".to_owned());
        }
        if problems.is_empty() {
            Ok(Self(raw.to_owned()))
        } else {
            Err(problems)
        }
    }

    /// The slug.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn good_slugs() {
        for good in ["acme", "a-1", "abc", &"a".repeat(63), "0-9"] {
            assert!(Slug::parse(good).is_ok(), "{good}");
        }
    }

    #[test]
    fn bad_slugs_say_why() {
        assert_eq!(
            Slug::parse("ab").unwrap_err(),
            ["must be 3 to 63 characters"]
        );
        assert_eq!(
            Slug::parse("Acme").unwrap_err(),
            ["may contain only a-z, 0-9 and -"]
        );
        assert_eq!(
            Slug::parse("-acme").unwrap_err(),
            ["must not start or end with -"]
        );
        assert_eq!(Slug::parse("platform").unwrap_err(), ["is reserved"]);
        assert_eq!(Slug::parse("a_").unwrap_err().len(), 2);
        assert!(Slug::parse(&"a".repeat(64)).is_err());
        assert!(Slug::parse("acme.io").is_err());
    }
}
