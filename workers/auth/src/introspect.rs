//! `auth.introspect`: whether an access token is good right now, and for
//! whom (RFC 7662's shape), checked exactly as a bearer request is.

use olympus_contracts::auth::{IntrospectReply, IntrospectRequest};
use olympus_contracts::ErrorCode;
use olympus_runtime::{auth, App, Call, Error};

/// Handles `auth.introspect`: `{active: false}` for any token a bearer
/// request would refuse.
pub async fn introspect(app: App, call: Call<IntrospectRequest>) -> Result<IntrospectReply, Error> {
    match auth::check(&app, call.body.access_token.expose()).await {
        Ok(claims) => Ok(IntrospectReply {
            active: true,
            sub: Some(claims.sub),
            tid: Some(claims.tid),
            sid: Some(claims.sid),
            role: Some(claims.role),
            exp: Some(claims.exp),
        }),
        Err(err) if err.code() == ErrorCode::Unauthenticated => Ok(IntrospectReply {
            active: false,
            sub: None,
            tid: None,
            sid: None,
            role: None,
            exp: None,
        }),
        Err(err) => Err(err),
    }
}
