//! [`Email`]: an address we accept, normalized, so that every spelling of
//! one address is one account (contract §5, auth, revision 3).
//!
//! The normal form: trimmed, NFKC-normalized and lower-cased (so `josé` in
//! NFC and in NFD, fullwidth `ｋｉｍ` and `kim`, `Ada@Example.COM` and
//! `ada@example.com` are each one address), the domain mapped by UTS-46
//! (IDNA) and kept in its Unicode form (`xn--bcher-kva.example` is
//! `bücher.example`), at most 254 characters after that.
//!
//! Addresses stored before revision 3 were only trimmed and lower-cased.
//! `olympus migrate` brings them to the normal form (the `olympus` crate's
//! `migrate::normalize_stored_emails`),
//! except where two accounts of a tenant would then collide: the one not in
//! the normal form keeps its stored spelling and keeps working, found by
//! [`Email::stored_before_revision_3`]; a new account for that address is
//! `conflict`, as the normal form is taken.

use std::fmt;
use unicode_normalization::UnicodeNormalization;

/// A syntactically valid email address in the normal form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

/// The longest address, in characters, after normalization.
pub const MAX_CHARS: usize = 254;

/// Trimmed, NFKC-normalized and lower-cased (the contract's order).
fn fold(raw: &str) -> String {
    raw.trim().nfkc().collect::<String>().to_lowercase()
}

/// The Unicode form of `domain` under UTS-46, when it is a valid host name
/// of at least two labels (checked on its ASCII form: letters, digits and
/// hyphens, 1 to 63 per label).
fn domain(domain: &str) -> Option<String> {
    let (unicode, mapped) = idna::domain_to_unicode(domain);
    mapped.ok()?;
    let ascii = idna::domain_to_ascii_strict(&unicode).ok()?;
    let labels: Vec<&str> = ascii.split('.').collect();
    let valid = labels.len() >= 2
        && labels.iter().all(|label| {
            (1..=63).contains(&label.len())
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    valid.then_some(unicode)
}

impl Email {
    /// Parses an address into the normal form; every broken rule is listed.
    pub fn parse(raw: &str) -> Result<Self, Vec<String>> {
        let folded = fold(raw);
        let mut problems = Vec::new();
        let Some((local, domain_part)) = folded.rsplit_once('@') else {
            problems.push("must be an email address like name@example.com".to_owned());
            return Err(problems);
        };
        if local.is_empty() || local.len() > 64 {
            problems.push("the part before @ must be 1 to 64 characters".to_owned());
        }
        let local_ok = local.chars().all(|c| {
            c.is_ascii_alphanumeric() || "!#$%&'*+/=?^_`{|}~.-".contains(c) || !c.is_ascii()
        }) && !local.chars().any(char::is_control)
            && !local.starts_with('.')
            && !local.ends_with('.')
            && !local.contains("..");
        if !local_ok {
            problems.push("the part before @ has characters that are not allowed".to_owned());
        }
        let value = match domain(domain_part) {
            Some(domain) => format!("{local}@{domain}"),
            None => {
                problems.push("the domain must be like example.com".to_owned());
                folded.clone()
            }
        };
        if value.chars().count() > MAX_CHARS {
            problems.push(format!("must be at most {MAX_CHARS} characters"));
        }
        if problems.is_empty() {
            Ok(Self(value))
        } else {
            Err(problems)
        }
    }

    /// How `raw` was stored before revision 3 (trimmed and lower-cased
    /// only), when that differs from its normal form `self`: the spelling
    /// of an account left unnormalized because it would have collided (see
    /// [the module](self)). Look-ups try it first, so that such an account
    /// keeps working with the spelling it was made with.
    pub fn stored_before_revision_3(&self, raw: &str) -> Option<String> {
        let old = raw.trim().to_lowercase();
        (old != self.0).then_some(old)
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
    fn every_spelling_of_one_address_is_one_address() {
        let nfc = "jos\u{e9}@example.com";
        let nfd = "jose\u{301}@example.com";
        assert_eq!(Email::parse(nfd).unwrap().as_str(), nfc);
        assert_eq!(Email::parse(nfc).unwrap().as_str(), nfc);
        // Fullwidth letters and the at sign, the Kelvin sign.
        assert_eq!(
            Email::parse("\u{ff2b}\u{ff49}\u{ff4d}\u{ff20}example.com")
                .unwrap()
                .as_str(),
            "kim@example.com"
        );
        assert_eq!(
            Email::parse("\u{212a}im@example.com").unwrap().as_str(),
            "kim@example.com"
        );
        // Domains by UTS-46, kept in their Unicode form.
        for spelling in [
            "user@xn--bcher-kva.example",
            "user@B\u{dc}CHER.example",
            "user@bu\u{308}cher.example",
        ] {
            assert_eq!(
                Email::parse(spelling).unwrap().as_str(),
                "user@b\u{fc}cher.example",
                "{spelling}"
            );
        }
    }

    #[test]
    fn the_normal_form_is_its_own_normal_form() {
        for raw in [
            "jose\u{301}@Example.com",
            "\u{ff2b}\u{ff49}\u{ff4d}@example.com",
            "STRASSE@stra\u{df}e.example",
            "\u{130}stanbul@example.com",
            "user@xn--bcher-kva.example",
            "\u{fb01}nance@example.com",
        ] {
            let once = Email::parse(raw).unwrap();
            let twice = Email::parse(once.as_str()).unwrap();
            assert_eq!(once, twice, "{raw}");
        }
    }

    #[test]
    fn the_spelling_stored_before_revision_3_is_known_when_it_differs() {
        let raw = " Jose\u{301}@Example.com";
        let email = Email::parse(raw).unwrap();
        assert_eq!(
            email.stored_before_revision_3(raw).as_deref(),
            Some("jose\u{301}@example.com")
        );
        let plain = Email::parse("Ada@Example.com").unwrap();
        assert_eq!(plain.stored_before_revision_3("Ada@Example.com"), None);
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
            "ada@exa_mple.com",
            ".ada@example.com",
            "a..da@example.com",
            "ada lovelace@example.com",
            "ada@xn--.example",
        ] {
            let problems = Email::parse(bad).unwrap_err();
            assert!(!problems.is_empty(), "{bad:?}");
        }
        let long = format!("{}@example.com", "a".repeat(65));
        assert!(Email::parse(&long).is_err());
        let too_long = format!("{}@{}.example.com", "a".repeat(60), "b.".repeat(100));
        assert!(Email::parse(&too_long).is_err());
    }
}
