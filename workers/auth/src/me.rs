//! `auth.me`: the caller's own user.

use olympus_contracts::auth::UserReply;
use olympus_contracts::shapes::Empty;
use olympus_contracts::ErrorCode;
use olympus_runtime::shared_reads::SharedRead;
use olympus_runtime::{Ctx, Error};
use sqlx::FromRow;
use std::sync::LazyLock;

use crate::users::{UserRow, USER_COLUMNS};

/// Handles `auth.me`.
pub async fn me(ctx: Ctx, _: Empty) -> Result<UserReply, Error> {
    let claims = ctx.claims()?;
    // Enters the tenant and reads under row-level security, in a round
    // trip shared with the other requests waiting for this read.
    static READ: LazyLock<SharedRead> = LazyLock::new(|| {
        SharedRead::new(&format!(
            "SELECT {USER_COLUMNS} FROM users WHERE id = k.key"
        ))
    });
    let row = ctx
        .read_shared(&READ, claims.tid, claims.sub)
        .await?
        .ok_or_else(|| Error::new(ErrorCode::NotFound))?;
    let user = UserRow::from_row(&row)?.into_user()?;
    Ok(UserReply { user })
}
