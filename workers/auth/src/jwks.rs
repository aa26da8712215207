//! `auth.jwks`: the published signing keys, from which anyone verifies
//! access tokens (contract §4, §5). Answered from what this process read
//! with the revocations, without a database round trip: the same set the
//! workers verify with.

use olympus_contracts::auth::JwksReply;
use olympus_contracts::shapes::Empty;
use olympus_runtime::{Ctx, Error};

/// Handles `auth.jwks`.
pub async fn jwks(ctx: Ctx, _: Empty) -> Result<JwksReply, Error> {
    Ok(JwksReply {
        keys: ctx.app().tokens().published(),
    })
}
