//! `auth.resend_verification`: a new verification mail for the caller,
//! within the address's hourly mail limit.

use olympus_contracts::shapes::Empty;
use olympus_contracts::ErrorCode;
use olympus_runtime::outbox::Mailed;
use olympus_runtime::{Ctx, Error};

use crate::{users, verification};

/// Handles `auth.resend_verification`: `{}` (nothing sent when the address
/// is verified already), `rate_limited` with `retry_after_secs` beyond the
/// limit.
pub async fn resend(ctx: Ctx, _: Empty) -> Result<Empty, Error> {
    let user_id = ctx.claims()?.sub;
    let mut tx = ctx.tx().await?;
    let user = users::find(&mut tx, user_id)
        .await?
        .ok_or_else(|| Error::new(ErrorCode::Unauthenticated))?;
    if user.email_verified {
        return Ok(Empty {});
    }
    match verification::issue(&mut tx, &user, ctx.now()).await? {
        Mailed::Queued(_) => Ok(Empty {}),
        Mailed::Limited { retry_after_secs } => Err(Error::new(ErrorCode::RateLimited)
            .with_message("too many mails to this address; retry later")
            .with_detail("retry_after_secs", retry_after_secs)),
    }
}
