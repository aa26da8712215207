//! `auth.sessions.list`: the caller's live sessions, newest first.

use chrono::{DateTime, Utc};
use olympus_contracts::auth::{SessionInfo, SessionsReply};
use olympus_contracts::shapes::Empty;
use olympus_runtime::{App, Call, Error};
use uuid::Uuid;

/// At most this many sessions are listed (the newest).
pub const MAX_LISTED: i64 = 100;

/// Handles `auth.sessions.list`.
pub async fn list(app: App, call: Call<Empty>) -> Result<SessionsReply, Error> {
    let claims = call.meta.claims()?;
    let mut tx = app.db().tenant(claims.tid).await?;
    type Row = (
        Uuid,
        DateTime<Utc>,
        DateTime<Utc>,
        Option<String>,
        Option<String>,
    );
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT id, created_at, last_used_at, ip, user_agent FROM sessions
          WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $2
          ORDER BY created_at DESC, id DESC LIMIT $3",
    )
    .bind(claims.sub)
    .bind(app.now())
    .bind(MAX_LISTED)
    .fetch_all(&mut *tx)
    .await?;
    olympus_runtime::db::commit(tx).await?;
    let items = rows
        .into_iter()
        .map(
            |(id, created_at, last_used_at, ip, user_agent)| SessionInfo {
                id,
                created_at,
                last_used_at,
                ip,
                user_agent,
                current: id == claims.sid,
            },
        )
        .collect();
    Ok(SessionsReply { items })
}
