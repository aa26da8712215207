//! `auth.me`: the caller's own user.

use olympus_contracts::auth::UserReply;
use olympus_contracts::shapes::Empty;
use olympus_contracts::ErrorCode;
use olympus_runtime::{App, Call, Error};

use crate::users;

/// Handles `auth.me`.
pub async fn me(app: App, call: Call<Empty>) -> Result<UserReply, Error> {
    let claims = call.meta.claims()?;
    let mut tx = app.db().tenant(claims.tid).await?;
    let user = users::find(&mut tx, claims.sub)
        .await?
        .ok_or_else(|| Error::new(ErrorCode::NotFound))?;
    tx.commit().await?;
    Ok(UserReply { user })
}
