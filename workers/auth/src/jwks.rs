//! `auth.jwks`: the published signing keys, from which anyone verifies
//! access tokens (contract §4, §5). Answered from what this process read
//! with the revocations, without a database round trip: the same set the
//! workers verify with. When that knowledge is stale (Postgres away), it
//! answers `unavailable`, as bearer requests do, rather than a set that may
//! still hold a revoked key.

use olympus_contracts::auth::JwksReply;
use olympus_contracts::shapes::Empty;
use olympus_contracts::ErrorCode;
use olympus_runtime::revocation::STALE_AFTER;
use olympus_runtime::{Ctx, Error};

/// Handles `auth.jwks`.
pub async fn jwks(ctx: Ctx, _: Empty) -> Result<JwksReply, Error> {
    if ctx
        .app()
        .revocations()
        .age()
        .is_none_or(|age| age >= STALE_AFTER)
    {
        return Err(Error::new(ErrorCode::Unavailable)
            .with_message("the key set cannot be read right now; retry")
            .with_detail("retry_after_secs", 1));
    }
    Ok(JwksReply {
        keys: ctx.app().tokens().published(),
    })
}
