//! Checking a second factor (a TOTP code or a recovery code) against the
//! account's lockout budget (contract §5, revision 3; [`crate::lockout`]).
//!
//! A code is compared inside the transaction that holds the user's row
//! (`FOR UPDATE`), so checks of one account run one after the other and
//! each sees the count the previous one left: ten parallel wrong codes
//! compare no more codes than the budget allows, the rest find the account
//! locked. Comparing a code is fast (an HMAC), so holding the row meanwhile
//! costs nothing, unlike a password's Argon2 (which is why passwords take a
//! try first and compare outside). Tries of passwords still in flight count
//! too: when they use up the budget, a code is refused without a compare.
//!
//! The transaction is the caller's and must be one that commits whatever
//! becomes of the request (`Ctx::apart`): a wrong code's count is kept, and
//! a right code is spent (its step, or the recovery code) together with what
//! it unlocks, in the same commit.

use olympus_contracts::{ErrorCode, Secret};
use olympus_runtime::error::Validation;
use olympus_runtime::{App, Ctx, Error, Tx};
use uuid::Uuid;

use super::{recovery_codes, totp};
use crate::keys::Kek;
use crate::lockout::{self, Try};

/// A second factor as a request gives it.
#[derive(Debug)]
pub enum Factor<'a> {
    /// A code from the user's authenticator.
    Totp(&'a Secret),
    /// One of the user's recovery codes.
    RecoveryCode(&'a Secret),
}

impl<'a> Factor<'a> {
    /// Exactly one of `code` and `recovery_code`; else `validation_failed`
    /// naming both.
    pub fn one_of(
        code: Option<&'a Secret>,
        recovery_code: Option<&'a Secret>,
    ) -> Result<Self, Error> {
        match (code, recovery_code) {
            (Some(code), None) => Ok(Self::Totp(code)),
            (None, Some(recovery)) => Ok(Self::RecoveryCode(recovery)),
            _ => Err(Validation::one_of("code", "recovery_code")),
        }
    }
}

impl<'a> Factor<'a> {
    /// A `code` that may be either (`auth.delete_me`): six digits, spaces
    /// aside, are a TOTP code; anything else is taken for a recovery code.
    pub fn of_code(code: &'a Secret) -> Self {
        let mut digits = 0;
        let only_digits = code
            .expose()
            .chars()
            .filter(|c| !c.is_whitespace())
            .all(|c| {
                digits += 1;
                c.is_ascii_digit()
            });
        if only_digits && digits == totp::DIGITS {
            Self::Totp(code)
        } else {
            Self::RecoveryCode(code)
        }
    }
}

/// How a check ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Checked {
    /// Right: spent, and the account's count cleared.
    Right,
    /// Wrong (or no such factor): counted toward the lockout.
    Wrong,
    /// Not compared: the account is locked, or tries in flight use up its
    /// budget, or the user is gone or has no TOTP.
    Refused,
}

/// The account's row as a check needs it.
#[derive(sqlx::FromRow)]
struct Account {
    failed_logins: i32,
    locked: bool,
    lock_ended: bool,
    totp_secret: Option<Vec<u8>>,
    totp_last_step: Option<i64>,
}

/// Checks `factor` of the caller in a transaction apart from the request's
/// and, when it is right, runs `then` in the same transaction, so that what
/// the code unlocks commits with the code spent. A wrong code's count is
/// committed all the same, and the request answered `invalid_credentials`;
/// `what` names the operation in the log.
pub async fn spend<T>(
    ctx: &Ctx,
    kek: &Kek,
    factor: Factor<'_>,
    what: &str,
    then: impl AsyncFnOnce(&mut Tx<'_>) -> Result<T, Error>,
) -> Result<T, Error> {
    let claims = ctx.claims()?;
    let user_id = claims.sub;
    let outcome = ctx
        .apart(Some(claims.tid), async |tx| {
            match check(ctx.app(), kek, tx, user_id, factor).await? {
                Checked::Right => then(tx).await.map(Ok),
                refused => Ok(Err(refused)),
            }
        })
        .await?;
    outcome.map_err(|checked| {
        tracing::info!(%user_id, ?checked, "{what}: the code was refused");
        Error::new(ErrorCode::InvalidCredentials)
    })
}

/// Checks `factor` of `user_id` in `tx` (see [the module](self)).
pub async fn check(
    app: &App,
    kek: &Kek,
    tx: &mut Tx<'_>,
    user_id: Uuid,
    factor: Factor<'_>,
) -> Result<Checked, Error> {
    let now = tx.now();
    let threshold = lockout::threshold(app);
    let account: Option<Account> = sqlx::query_as(
        "SELECT failed_logins,
                coalesce(locked_until > $2, false) AS locked,
                coalesce(locked_until <= $2, false) AS lock_ended,
                totp_secret, totp_last_step
           FROM users WHERE id = $1 FOR UPDATE",
    )
    .bind(user_id)
    .bind(now)
    .fetch_optional(&mut **tx)
    .await?;
    // Gone, or without TOTP (turned off since a challenge was issued):
    // there is nothing to compare, and nothing to count.
    let Some(account) = account.filter(|a| a.totp_secret.is_some()) else {
        return Ok(Checked::Refused);
    };
    // The try this check takes, as `lockout` counts them.
    let attempt = if account.lock_ended {
        1
    } else if account.locked || account.failed_logins >= threshold {
        tracing::info!(%user_id, locked = account.locked, "a code was not compared: the account is locked");
        return Ok(Checked::Refused);
    } else {
        account.failed_logins + 1
    };
    let right = match factor {
        Factor::Totp(code) => match &account.totp_secret {
            Some(sealed) => {
                let secret = totp::Secret::open(kek, user_id, sealed)?;
                match secret.accepts(code.expose(), now, account.totp_last_step) {
                    Some(step) => {
                        sqlx::query("UPDATE users SET totp_last_step = $2 WHERE id = $1")
                            .bind(user_id)
                            .bind(step)
                            .execute(&mut **tx)
                            .await?;
                        true
                    }
                    None => false,
                }
            }
            None => false,
        },
        Factor::RecoveryCode(code) => match recovery_codes::hash(kek, user_id, code.expose()) {
            Some(hash) => {
                sqlx::query(
                    "UPDATE recovery_codes SET used_at = $3
                      WHERE user_id = $1 AND hash = $2 AND used_at IS NULL",
                )
                .bind(user_id)
                .bind(hash)
                .bind(now)
                .execute(&mut **tx)
                .await?
                .rows_affected()
                    == 1
            }
            None => false,
        },
    };
    if right {
        lockout::succeeded(tx, user_id).await?;
        return Ok(Checked::Right);
    }
    sqlx::query("UPDATE users SET failed_logins = $2, locked_until = NULL WHERE id = $1")
        .bind(user_id)
        .bind(attempt)
        .execute(&mut **tx)
        .await?;
    tracing::info!(%user_id, failed_logins = attempt, "a wrong second factor");
    lockout::failed(
        app,
        tx,
        user_id,
        Try {
            failed_logins: attempt,
        },
    )
    .await?;
    Ok(Checked::Wrong)
}
