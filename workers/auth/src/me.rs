//! `auth.me`: the caller's own user.

use olympus_contracts::auth::UserReply;
use olympus_contracts::shapes::Empty;
use olympus_contracts::ErrorCode;
use olympus_runtime::{db, App, Call, Error};
use std::sync::LazyLock;

use crate::users::{UserRow, USER_COLUMNS};

/// Handles `auth.me`.
pub async fn me(app: App, call: Call<Empty>) -> Result<UserReply, Error> {
    let claims = call.meta.claims()?;
    // One round trip: enters the tenant and reads under row-level security.
    static READ: LazyLock<String> =
        LazyLock::new(|| db::in_tenant(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = $2")));
    let row: Option<UserRow> = sqlx::query_as(READ.as_str())
        .bind(claims.tid)
        .bind(claims.sub)
        .fetch_optional(app.db().app_pool())
        .await?;
    let user = row
        .ok_or_else(|| Error::new(ErrorCode::NotFound))?
        .into_user()?;
    Ok(UserReply { user })
}
