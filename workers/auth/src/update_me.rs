//! `auth.update_me`: the caller changes their own display name and phone,
//! recording `user.updated` (contract revision 3) with the user as they are
//! now.

use olympus_contracts::auth::{UpdateMeRequest, UserReply};
use olympus_contracts::event::data;
use olympus_contracts::ErrorCode;
use olympus_runtime::error::Validation;
use olympus_runtime::{phone, text, Ctx, Error};

use crate::users::{UserRow, USER_COLUMNS};

/// Handles `auth.update_me`.
pub async fn update_me(ctx: Ctx, request: UpdateMeRequest) -> Result<UserReply, Error> {
    let user_id = ctx.claims()?.sub;
    let mut v = Validation::default();
    let display_name = request
        .display_name
        .as_deref()
        .and_then(|raw| v.check("display_name", text::line(raw, 1, 100)));
    // Absent: unchanged; nil: removed; a number: normalized.
    let phone = match &request.phone {
        None => None,
        Some(None) => Some(None),
        Some(Some(raw)) => v.check("phone", phone::parse(raw)).map(Some),
    };
    v.finish()?;
    let mut tx = ctx.tx().await?;
    let row: Option<UserRow> = sqlx::query_as(&format!(
        "UPDATE users
            SET display_name = coalesce($2, display_name),
                phone = CASE WHEN $3 THEN $4 ELSE phone END,
                updated_at = $5
          WHERE id = $1
      RETURNING {USER_COLUMNS}"
    ))
    .bind(user_id)
    .bind(display_name)
    .bind(phone.is_some())
    .bind(phone.flatten())
    .bind(ctx.now())
    .fetch_optional(&mut *tx)
    .await?;
    let user = row
        .ok_or_else(|| Error::new(ErrorCode::NotFound))?
        .into_user()?;
    let updated = data::UserUpdated {
        user: user.clone().into(),
    };
    tx.emit(user.id, &updated).await?;
    Ok(UserReply { user })
}
