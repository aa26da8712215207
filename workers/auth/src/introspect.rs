//! `auth.introspect`: whether an access token is good right now, and for
//! whom (RFC 7662's shape), checked exactly as a bearer request is: what
//! it answers is what the workers enforce, so the role is the member's
//! current one (read now, as the runtime reads it for a role check), not
//! the one written in the token, and a token of a member who no longer
//! exists is inactive.

use olympus_contracts::auth::{IntrospectReply, IntrospectRequest};
use olympus_contracts::ErrorCode;
use olympus_runtime::{Ctx, Error};

/// Handles `auth.introspect`: `{active: false}` for any token a bearer
/// request would refuse.
pub async fn introspect(ctx: Ctx, request: IntrospectRequest) -> Result<IntrospectReply, Error> {
    let checked = match ctx.app().check_token(request.access_token.expose()) {
        Ok(claims) => ctx
            .current_role(&claims)
            .await
            .map(|caller| (claims, caller)),
        Err(err) => Err(err),
    };
    match checked {
        Ok((claims, caller)) => Ok(IntrospectReply {
            active: true,
            sub: Some(claims.sub),
            tid: Some(claims.tid),
            sid: Some(claims.sid),
            role: Some(caller.role),
            exp: Some(claims.exp),
            amr: Some(claims.amr),
        }),
        Err(err) if err.code() == ErrorCode::Unauthenticated => Ok(IntrospectReply {
            active: false,
            sub: None,
            tid: None,
            sid: None,
            role: None,
            exp: None,
            amr: None,
        }),
        Err(err) => Err(err),
    }
}
