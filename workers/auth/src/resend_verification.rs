//! `auth.resend_verification`: a new verification mail for the caller,
//! within the address's hourly mail limit.

use olympus_contracts::shapes::Empty;
use olympus_contracts::ErrorCode;
use olympus_runtime::outbox::Mailed;
use olympus_runtime::{App, Call, Error};

use crate::{users, verification};

/// Handles `auth.resend_verification`: `{}` (nothing sent when the address
/// is verified already), `rate_limited` with `retry_after_secs` beyond the
/// limit.
pub async fn resend(app: App, call: Call<Empty>) -> Result<Empty, Error> {
    let claims = call.meta.claims()?;
    let mut tx = app.db().tenant(claims.tid).await?;
    let user = users::find(&mut tx, claims.sub)
        .await?
        .ok_or_else(|| Error::new(ErrorCode::Unauthenticated))?;
    if user.email_verified {
        return Ok(Empty {});
    }
    let events = app.events(&call.meta);
    match verification::issue(&mut tx, &events, &user, app.now()).await? {
        Mailed::Queued(_) => {
            olympus_runtime::db::commit(tx).await?;
            Ok(Empty {})
        }
        Mailed::Limited { retry_after_secs } => Err(Error::new(ErrorCode::RateLimited)
            .with_message("too many mails to this address; retry later")
            .with_detail("retry_after_secs", retry_after_secs)),
    }
}
