//! Failed logins per client address: beyond
//! `OLYMPUS_LOGIN_FAILURES_PER_MINUTE` from one `X-Client-Ip` in the last
//! minute, logins from it get `rate_limited` with `retry_after_secs`,
//! whether or not the account exists (contract §5, auth). Counted in
//! Postgres, so every process sees the same count.
//!
//! A login takes its *try* from the address before its password is
//! compared, as the account lockout does ([`crate::lockout`]): while the
//! tries of the last minute (failed, or still in flight) are under the
//! limit, one more is recorded; a login that succeeds gives its try back
//! after the reply. So parallel failures from one address cannot all be
//! compared before any of them is counted. The request role sees only the
//! address it asks about (`olympus_address_try`, migration 0022), never the
//! table of every tenant's failed logins.

use chrono::{DateTime, Duration, Utc};
use olympus_contracts::ErrorCode;
use olympus_runtime::{Ctx, Error};
use uuid::Uuid;

/// The window the limit counts in.
const WINDOW_SECS: i64 = 60;

/// A login's try from an address, counted as a failure unless
/// [`AddressTry::release`]d.
#[derive(Debug, Clone, Copy)]
pub struct AddressTry(Uuid);

/// Takes a try for a login from `ip` (none without an address);
/// `rate_limited` when the address has used up its failed logins.
pub async fn take(ctx: &Ctx, ip: Option<&str>) -> Result<Option<AddressTry>, Error> {
    let Some(ip) = ip else {
        return Ok(None);
    };
    let now = ctx.now();
    let limit = i32::try_from(ctx.config().login_failures_per_minute).unwrap_or(i32::MAX);
    // One statement that commits by itself: one round trip.
    let (try_id, oldest): (Option<Uuid>, Option<DateTime<Utc>>) = ctx
        .autocommit(|pool| {
            sqlx::query_as("SELECT try_id, oldest FROM olympus_address_try($1, $2, $3, $4)")
                .bind(ip)
                .bind(now)
                .bind(WINDOW_SECS as f64)
                .bind(limit)
                .fetch_one(pool)
        })
        .await?;
    if let Some(try_id) = try_id {
        return Ok(Some(AddressTry(try_id)));
    }
    let free_at = oldest.map_or(now, |t| t + Duration::seconds(WINDOW_SECS));
    let retry_after_secs = (free_at - now).num_seconds().max(1);
    tracing::info!(retry_after_secs, "too many failed logins from one address");
    Err(Error::new(ErrorCode::RateLimited)
        .with_message("too many failed logins from this address; retry later")
        .with_detail("retry_after_secs", retry_after_secs))
}

impl AddressTry {
    /// Gives the try of a login that succeeded back to its address.
    pub async fn release(self, ctx: &Ctx) -> Result<(), Error> {
        ctx.autocommit(|pool| {
            sqlx::query("SELECT olympus_address_release($1)")
                .bind(self.0)
                .execute(pool)
        })
        .await?;
        Ok(())
    }
}
