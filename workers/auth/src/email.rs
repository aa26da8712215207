//! [`Email`]: an address we accept, normalized.

use std::fmt;

/// A syntactically valid email address, trimmed and lower-cased, so that
/// `Ada@Example.com` and `ada@example.com` are the same account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    /// Parses an address; every broken rule is listed.
    pub fn parse(raw: &str) -> Result<Self, Vec<String>> {
        let value = raw.trim().to_lowercase();
        let mut problems = Vec::new();
        if value.chars().count() > 254 {
            problems.push("must be at most 254 characters".to_owned());
        }
        let Some((local, domain)) = value.rsplit_once('@') else {
            problems.push("must be an email address like name@example.com".to_owned());
            return Err(problems);
        };
        if local.is_empty() || local.len() > 64 {
            problems.push("the part before @ must be 1 to 64 characters".to_owned());
        }
        let local_ok = local.chars().all(|c| {
            c.is_ascii_alphanumeric() || "!#$%&'*+/=?^_`{|}~.-".contains(c) || !c.is_ascii()
        }) && !local.starts_with('.')
            && !local.ends_with('.')
            && !local.contains("..");
        if !local_ok {
            problems.push("the part before @ has characters that are not allowed".to_owned());
        }
        let labels: Vec<&str> = domain.split('.').collect();
        let domain_ok = labels.len() >= 2
            && labels.iter().all(|label| {
                (1..=63).contains(&label.len())
                    && !label.starts_with('-')
                    && !label.ends_with('-')
                    && label.chars().all(|c| c.is_alphanumeric() || c == '-')
            });
        if !domain_ok {
            problems.push("the domain must be like example.com".to_owned());
        }
        if problems.is_empty() {
            Ok(Self(value))
        } else {
            Err(problems)
        }
    }

    /// The normalized address.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The part before `@`.
    pub fn local_part(&self) -> &str {
        self.0.rsplit_once('@').map_or("", |(local, _)| local)
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_addresses_are_normalized() {
        let email = Email::parse("  Ada.Lovelace+ops@Example.COM ").unwrap();
        assert_eq!(email.as_str(), "ada.lovelace+ops@example.com");
        assert_eq!(email.local_part(), "ada.lovelace+ops");
    }

    #[test]
    fn invalid_addresses_say_why() {
        for bad in [
            "",
            "plainaddress",
            "@example.com",
            "ada@",
            "ada@localhost",
            "ada@exa mple.com",
            "ada@-example.com",
            ".ada@example.com",
            "a..da@example.com",
            "ada lovelace@example.com",
        ] {
            let problems = Email::parse(bad).unwrap_err();
            assert!(!problems.is_empty(), "{bad:?}");
        }
        let long = format!("{}@example.com", "a".repeat(65));
        assert!(Email::parse(&long).is_err());
    }
}
