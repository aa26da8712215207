//! [`NewPassword`]: a password that meets the contract's policy.
//!
//! 8 to 128 characters, compared exactly as given (no trimming or
//! normalization); not one of the 19,729 most common passwords (ignoring
//! case; the list ships in `data/common-passwords.txt`); not containing the
//! email's local part; and judged strong enough by the zxcvbn estimator
//! (score 3 of 4: "safely unguessable") rather than by composition rules.
//! Every failed rule is reported.

use std::collections::HashSet;
use std::sync::LazyLock;

use olympus_contracts::event::data::{self, PasswordChange, RevocationReason};
use olympus_contracts::shapes::User;
use olympus_contracts::Secret;
use olympus_runtime::error::Validation;
use olympus_runtime::{App, Error, Tx};
use uuid::Uuid;

use crate::email::Email;
use crate::users::{UserRow, USER_COLUMNS};
use crate::{lockout, sessions};

/// The lowest zxcvbn score accepted.
const MIN_SCORE: u8 = 3;

/// A password that passed the policy; not yet hashed.
#[derive(Debug, Clone)]
pub struct NewPassword(Secret);

impl NewPassword {
    /// Checks `password` for an account with `email` (when it is valid).
    pub fn parse(password: &Secret, email: Option<&Email>) -> Result<Self, Vec<String>> {
        let value = password.expose();
        let length = value.chars().count();
        let mut problems = Vec::new();
        if length < 8 {
            problems.push("must be at least 8 characters".to_owned());
        }
        if length > 128 {
            problems.push("must be at most 128 characters".to_owned());
            // The estimator's cost grows with length; nothing more to judge.
            return Err(problems);
        }
        let local = email.map(Email::local_part).unwrap_or_default();
        // Very short local parts ("a@...") would forbid too much.
        if local.chars().count() >= 3 && value.to_lowercase().contains(local) {
            problems.push("must not contain the part of your email before @".to_owned());
        }
        if length > 0 {
            let user_inputs: Vec<&str> = email.map(|e| vec![e.as_str(), local]).unwrap_or_default();
            let estimate = zxcvbn::zxcvbn(value, &user_inputs);
            if is_common(value) {
                problems.push("is one of the most commonly used passwords".to_owned());
            }
            if (estimate.score() as u8) < MIN_SCORE {
                problems.push(
                    "is too easy to guess: use a longer password, e.g. several unrelated words"
                        .to_owned(),
                );
            }
        }
        if problems.is_empty() {
            Ok(Self(password.clone()))
        } else {
            Err(problems)
        }
    }

    /// The accepted password, to be hashed.
    pub fn secret(&self) -> &Secret {
        &self.0
    }

    /// [`NewPassword::parse`] for a request's only new password: every
    /// failure as `validation_failed` on `field`.
    pub fn parse_field(
        field: &str,
        password: &Secret,
        email: Option<&Email>,
    ) -> Result<Self, Error> {
        Self::parse(password, email).map_err(|problems| Validation::failed(field, problems))
    }
}

/// Sets `user_id`'s password to `password_hash`, in `tx` (the user's
/// tenant's): lifts a lockout, retires every outstanding reset token, login
/// challenge and email change of the user, ends every session of the user
/// and records
/// `user.password_changed` (how) and `session.revoked` for each. Returns
/// the user and the sessions ended (to announce once the transaction
/// commits, [`olympus_runtime::Ctx::announce_revoked`]).
pub async fn set(
    app: &App,
    tx: &mut Tx<'_>,
    user_id: Uuid,
    password_hash: &str,
    how: PasswordChange,
) -> Result<(User, Vec<Uuid>), Error> {
    let now = tx.now();
    // Unlocked; the count cleared, but for a user with TOTP
    // (`lockout::after_new_password`).
    let user: UserRow = sqlx::query_as(&format!(
        "UPDATE users SET password_hash = $2, updated_at = $3, {}
          WHERE id = $1 RETURNING {USER_COLUMNS}",
        lockout::after_new_password(app)
    ))
    .bind(user_id)
    .bind(password_hash)
    .bind(now)
    .fetch_one(&mut **tx)
    .await?;
    // A reset token mailed before must not set the password again: every
    // outstanding one of the user ends here (the one a reset used, too).
    sqlx::query("UPDATE password_resets SET used_at = $2 WHERE user_id = $1 AND used_at IS NULL")
        .bind(user_id)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    // Nor may a login's challenge or an email change asked for before.
    sqlx::query("DELETE FROM mfa_challenges WHERE user_id = $1 AND used_at IS NULL")
        .bind(user_id)
        .execute(&mut **tx)
        .await?;
    sqlx::query("UPDATE email_changes SET used_at = $2 WHERE user_id = $1 AND used_at IS NULL")
        .bind(user_id)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    let revoked = sessions::revoke_all(tx, user_id, RevocationReason::PasswordChanged).await?;
    let changed = data::UserPasswordChanged {
        user_id,
        how,
        sessions_revoked: revoked.len() as u64,
    };
    tx.emit(user_id, &changed).await?;
    Ok((user.into_user()?, revoked))
}

/// The common passwords, read once.
static COMMON: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    include_str!("../data/common-passwords.txt")
        .lines()
        .collect()
});

/// Whether the whole password, ignoring case, is a common one.
fn is_common(password: &str) -> bool {
    COMMON.contains(password.to_lowercase().as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(password: &str, email: &str) -> Result<NewPassword, Vec<String>> {
        let email = Email::parse(email).ok();
        NewPassword::parse(&Secret::new(password), email.as_ref())
    }

    #[test]
    fn a_long_unusual_passphrase_passes() {
        assert!(check("velvet-orbit-cactus-harmonica", "ada@example.com").is_ok());
    }

    #[test]
    fn common_passwords_are_refused_by_name() {
        for common in ["password", "iloveyou", "sunshine", "football", "Password1"] {
            let problems = check(common, "ada@example.com").unwrap_err();
            assert!(
                problems.iter().any(|p| p.contains("most commonly used")),
                "{common}: {problems:?}"
            );
        }
    }

    #[test]
    fn the_shipped_list_has_the_most_common_passwords() {
        assert_eq!(COMMON.len(), 19_729, "at least the 10,000 of the contract");
        assert!(is_common("123456") && is_common("QWERTY") && is_common("iloveyou"));
        assert!(!is_common("velvet-orbit-cactus-harmonica"));
    }

    #[test]
    fn length_bounds() {
        let short = check("x7#", "ada@example.com").unwrap_err();
        assert!(short.iter().any(|p| p.contains("at least 8")));
        let long = check(&"ab3$".repeat(33), "ada@example.com").unwrap_err();
        assert_eq!(long, vec!["must be at most 128 characters"]);
        // Exactly as given: spaces count and are kept.
        assert!(check("  velvet orbit cactus harmonica  ", "ada@example.com").is_ok());
    }

    #[test]
    fn the_email_local_part_is_refused() {
        let problems = check("lovelace-velvet-orbit-77", "lovelace@example.com").unwrap_err();
        assert!(
            problems.iter().any(|p| p.contains("before @")),
            "{problems:?}"
        );
    }

    #[test]
    fn weak_passwords_list_every_failure() {
        let problems = check("aaaaaaa", "ada@example.com").unwrap_err();
        assert!(problems.iter().any(|p| p.contains("at least 8")));
        assert!(problems.iter().any(|p| p.contains("too easy")));
    }
}
