//! `auth.sessions.list`: the caller's live sessions, newest first.

use chrono::{DateTime, Utc};
use olympus_contracts::auth::{SessionInfo, SessionsReply};
use olympus_contracts::shapes::Empty;
use olympus_runtime::{Ctx, Error};
use uuid::Uuid;

/// At most this many sessions are listed (the newest).
pub const MAX_LISTED: i64 = 100;

#[derive(sqlx::FromRow)]
struct Row {
    id: Uuid,
    created_at: DateTime<Utc>,
    last_used_at: DateTime<Utc>,
    ip: Option<String>,
    user_agent: Option<String>,
}

/// Handles `auth.sessions.list`.
pub async fn list(ctx: Ctx, _: Empty) -> Result<SessionsReply, Error> {
    let claims = ctx.claims()?;
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT id, created_at, last_used_at, ip, user_agent FROM sessions
          WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $2
          ORDER BY created_at DESC, id DESC LIMIT $3",
    )
    .bind(claims.sub)
    .bind(ctx.now())
    .bind(MAX_LISTED)
    .fetch_all(&mut *ctx.tx().await?)
    .await?;
    let items = rows
        .into_iter()
        .map(|row| SessionInfo {
            current: row.id == claims.sid,
            id: row.id,
            created_at: row.created_at,
            last_used_at: row.last_used_at,
            ip: row.ip,
            user_agent: row.user_agent,
        })
        .collect();
    Ok(SessionsReply { items })
}
