//! `auth.me`: the caller's own user.

use olympus_contracts::auth::UserReply;
use olympus_contracts::shapes::Empty;
use olympus_contracts::ErrorCode;
use olympus_runtime::{App, Call, Error};

use sqlx::FromRow;

use crate::users::{UserRow, USER_COLUMNS};

/// Handles `auth.me`.
pub async fn me(app: App, call: Call<Empty>) -> Result<UserReply, Error> {
    let claims = call.meta.claims()?;
    // One round trip: the tenant scope and the read in one message.
    let rows = app
        .db()
        .read_in_tenant(
            claims.tid,
            &format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"),
            &[claims.sub],
        )
        .await?;
    let row = rows
        .first()
        .ok_or_else(|| Error::new(ErrorCode::NotFound))?;
    let user = UserRow::from_row(row)?.into_user()?;
    Ok(UserReply { user })
}
