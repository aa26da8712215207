//! Failed logins per client address: beyond
//! `OLYMPUS_LOGIN_FAILURES_PER_MINUTE` from one `X-Client-Ip` in the last
//! minute, logins from it get `rate_limited` with `retry_after_secs`,
//! whether or not the account exists (contract §5, auth). Counted in
//! Postgres, so every process sees the same count.

use chrono::{DateTime, Duration, Utc};
use olympus_contracts::ErrorCode;
use olympus_runtime::{App, Error};

/// The window the limit counts in.
const WINDOW_SECS: i64 = 60;

/// `rate_limited` when `ip` has used up its failed logins.
pub async fn check(app: &App, ip: Option<&str>) -> Result<(), Error> {
    let Some(ip) = ip else {
        return Ok(());
    };
    let now = app.now();
    // One statement, no transaction: one round trip.
    let (failures, oldest): (i64, Option<DateTime<Utc>>) = sqlx::query_as(
        "SELECT count(*), min(failed_at) FROM login_failures
          WHERE ip = $1 AND failed_at > $2 - make_interval(secs => $3)",
    )
    .bind(ip)
    .bind(now)
    .bind(WINDOW_SECS as f64)
    .fetch_one(app.db().app_pool())
    .await?;
    if failures < i64::from(app.config().login_failures_per_minute) {
        return Ok(());
    }
    let free_at = oldest.map_or(now, |t| t + Duration::seconds(WINDOW_SECS));
    let retry_after_secs = (free_at - now).num_seconds().max(1);
    tracing::info!(retry_after_secs, "too many failed logins from one address");
    Err(Error::new(ErrorCode::RateLimited)
        .with_message("too many failed logins from this address; retry later")
        .with_detail("retry_after_secs", retry_after_secs))
}

/// Counts a failed login from `ip`.
pub async fn record(app: &App, ip: &str) -> Result<(), Error> {
    sqlx::query("INSERT INTO login_failures (ip, failed_at) VALUES ($1, $2)")
        .bind(ip)
        .bind(app.now())
        .execute(app.db().app_pool())
        .await?;
    Ok(())
}
