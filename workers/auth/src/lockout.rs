//! The account lockout (contract §5, auth): consecutive wrong passwords
//! lock an account, whichever operation asked for the password.
//!
//! Every comparison of a password takes a *try* at the account first: one
//! atomic `UPDATE` counts it among the consecutive failures before the
//! password is compared, unless the account is locked or the tries in
//! flight already use up the budget (`OLYMPUS_LOCKOUT_THRESHOLD`); then the
//! caller waits ([`BUSY_WAIT`]) for those to end. A wrong password keeps
//! its try counted, and the try that reaches the threshold locks the
//! account for `OLYMPUS_LOCKOUT_SECS` ([`failed`], which records
//! `user.locked`); a right one sets the count back to 0. So parallel
//! guesses cannot outrun the limit, through `login` or any other operation.
//!
//! `auth.login` takes its try inside its one-statement look-up
//! (`olympus_login_look_up`); every other operation that asks a signed-in
//! user for their password goes through [`confirm_password`], which takes
//! the try by user id: a new operation that asks for the password calls it
//! and cannot forget the count.
//!
//! **Second factors** (revision 3) share the budget: a wrong TOTP or
//! recovery code counts as a wrong password does ([`crate::mfa::factor`]).
//! For a user with TOTP a right password is only half a login, so it does
//! not clear the count, whichever operation asked for it (`login`,
//! `change_password`, `change_email`, `mfa.disable`): it gives its own try
//! back ([`give_back`]) and only a right code clears it; setting a new
//! password keeps it too ([`after_new_password`]). Otherwise password, four
//! wrong codes, password, four more... would guess codes forever.

use chrono::{DateTime, Utc};
use olympus_contracts::event::data;
use olympus_contracts::{ErrorCode, Secret};
use olympus_runtime::{App, Ctx, Error, Tx};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::hashing::Slot;

/// How long a password check waits for the tries in flight before it is
/// refused.
pub const BUSY_WAIT: std::time::Duration = std::time::Duration::from_secs(5);
/// How often it looks again meanwhile.
pub const BUSY_POLL: std::time::Duration = std::time::Duration::from_millis(20);

/// A try at an account, taken before its password is compared.
#[derive(Debug, Clone, Copy)]
pub struct Try {
    /// Consecutive failures counting this try.
    pub failed_logins: i32,
}

/// The configured threshold as SQL binds it.
pub fn threshold(app: &App) -> i32 {
    i32::try_from(app.config().lockout_threshold.max(1)).unwrap_or(i32::MAX)
}

/// Locks the account after a failed try that reached the limit, unless a
/// success came since; the count and the lock's end when it did.
pub async fn lock(
    app: &App,
    conn: &mut PgConnection,
    user_id: Uuid,
) -> Result<Option<(i32, DateTime<Utc>)>, Error> {
    let locked = sqlx::query_as(
        "UPDATE users SET locked_until = $2::timestamptz + make_interval(secs => $4)
          WHERE id = $1 AND failed_logins >= $3 AND locked_until IS NULL
      RETURNING failed_logins, locked_until",
    )
    .bind(user_id)
    .bind(app.now())
    .bind(threshold(app))
    .bind(app.config().lockout_secs as f64)
    .fetch_optional(conn)
    .await?;
    Ok(locked)
}

/// Records that `attempt` at `user_id`'s account failed, in `tx` (the
/// user's tenant's): when it reached the threshold the account locks and
/// `user.locked` is recorded.
pub async fn failed(app: &App, tx: &mut Tx<'_>, user_id: Uuid, attempt: Try) -> Result<(), Error> {
    let threshold = i32::try_from(app.config().lockout_threshold).unwrap_or(i32::MAX);
    if attempt.failed_logins < threshold {
        return Ok(());
    }
    let Some((failed_logins, locked_until)) = lock(app, tx, user_id).await? else {
        return Ok(());
    };
    tracing::warn!(%user_id, failed_logins, %locked_until, "account locked after wrong passwords");
    let locked = data::UserLocked {
        user_id,
        failed_logins: u32::try_from(failed_logins).unwrap_or_default(),
        locked_until,
    };
    tx.emit(user_id, &locked).await?;
    Ok(())
}

/// What a new password (a change or a reset) does to the count: the
/// account unlocks, and the count clears, except for a user with TOTP,
/// whose count of wrong codes stays (below the threshold, so that the
/// unlocked account can be tried again): a new password is no right code.
pub const AFTER_NEW_PASSWORD: &str = "locked_until = NULL, \
     failed_logins = CASE WHEN mfa_enabled THEN least(failed_logins, $THRESHOLD - 1) ELSE 0 END";

/// [`AFTER_NEW_PASSWORD`] for `app`'s threshold, as SQL assignments.
pub fn after_new_password(app: &App) -> String {
    AFTER_NEW_PASSWORD.replace("$THRESHOLD", &threshold(app).to_string())
}

/// Gives back a try that a right password took when a code must follow
/// (a user with TOTP): the count is what it was, not cleared.
pub async fn give_back(conn: &mut PgConnection, user_id: Uuid) -> Result<(), Error> {
    sqlx::query("UPDATE users SET failed_logins = greatest(failed_logins - 1, 0) WHERE id = $1")
        .bind(user_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Clears the count of a user whose credential was right (a password of a
/// user without TOTP, or a code), and any lock that had ended.
pub async fn succeeded(conn: &mut PgConnection, user_id: Uuid) -> Result<(), Error> {
    sqlx::query("UPDATE users SET failed_logins = 0, locked_until = NULL WHERE id = $1")
        .bind(user_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// What taking a try by user id found.
#[derive(sqlx::FromRow)]
struct Taken {
    granted: Option<i32>,
    /// Whether the account is locked now.
    locked: Option<bool>,
    password_hash: Option<String>,
    /// Whether the user has TOTP: a right password then gives its try back
    /// rather than clearing the count.
    mfa_enabled: Option<bool>,
}

/// Takes a try at `user_id`'s account (see [the module](self)), in a
/// transaction of its own so that the try counts whatever happens next.
async fn take(ctx: &Ctx, tenant_id: Uuid, user_id: Uuid) -> Result<Taken, Error> {
    let app = ctx.app();
    let deadline = tokio::time::Instant::now() + BUSY_WAIT;
    loop {
        let taken: Taken = ctx
            .apart(Some(tenant_id), async |tx| {
                Ok(sqlx::query_as(
                    "WITH target AS (
                         SELECT id, failed_logins, locked_until, password_hash, mfa_enabled FROM users
                          WHERE id = $1 FOR UPDATE
                     ), counted AS (
                         SELECT id, CASE WHEN locked_until <= $2 THEN 1 ELSE failed_logins + 1 END AS n
                           FROM target
                          WHERE locked_until <= $2 OR (locked_until IS NULL AND failed_logins < $3)
                     ), updated AS (
                         UPDATE users u SET failed_logins = c.n, locked_until = NULL
                           FROM counted c WHERE u.id = c.id
                         RETURNING u.failed_logins
                     )
                     SELECT (SELECT failed_logins FROM updated) AS granted,
                            (SELECT locked_until IS NOT NULL AND locked_until > $2 FROM target) AS locked,
                            (SELECT password_hash FROM target) AS password_hash,
                            (SELECT mfa_enabled FROM target) AS mfa_enabled",
                )
                .bind(user_id)
                .bind(app.now())
                .bind(threshold(app))
                .fetch_one(&mut **tx)
                .await?)
            })
            .await?;
        let locked = taken.locked.unwrap_or(false);
        let busy = taken.granted.is_none() && !locked && taken.password_hash.is_some();
        if !busy || tokio::time::Instant::now() >= deadline {
            if busy {
                // Tries that never ended (a process died mid-check) must
                // not hold the account forever: it locks, and unlocks in time.
                ctx.apart(Some(tenant_id), async |tx| {
                    lock(app, tx, user_id).await.map(|_| ())
                })
                .await?;
            }
            return Ok(taken);
        }
        tokio::time::sleep(BUSY_POLL).await;
    }
}

/// Checks the password of the signed-in caller for an operation that asks
/// for it again (`change_password`; later `delete_me`, `change_email`,
/// `mfa.disable`): `invalid_credentials` when it is wrong or the account is
/// locked (a locked account's hash is not compared: the dummy costs the
/// same), the wrong one counted toward the lockout, whatever becomes of the
/// request. A right one clears the count, unless the user has TOTP: then
/// it gives its try back, and only a right code clears the count (see [the
/// module](self)), whatever operation asked.
pub async fn confirm_password(ctx: &Ctx, slot: &Slot, password: &Secret) -> Result<(), Error> {
    let claims = ctx.claims()?;
    let (tenant_id, user_id) = (claims.tid, claims.sub);
    let taken = take(ctx, tenant_id, user_id).await?;
    let attempt = taken.granted.map(|failed_logins| Try { failed_logins });
    let stored = taken.password_hash.as_deref().filter(|_| attempt.is_some());
    let matches = slot.verify(password, stored).await?;
    ctx.apart(Some(tenant_id), async |tx| match attempt {
        Some(_) if matches && taken.mfa_enabled == Some(true) => give_back(tx, user_id).await,
        Some(_) if matches => succeeded(tx, user_id).await,
        Some(attempt) => failed(ctx.app(), tx, user_id, attempt).await,
        None => Ok(()),
    })
    .await?;
    if matches {
        Ok(())
    } else {
        let locked = taken.locked.unwrap_or(false);
        tracing::info!(%user_id, locked, "a password check failed");
        Err(Error::new(ErrorCode::InvalidCredentials))
    }
}
