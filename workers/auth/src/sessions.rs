//! Sessions and their refresh tokens.
//!
//! A session is one login. Its refresh token is opaque (see
//! [`olympus_runtime::opaque`]), stored only as a hash, and replaced on
//! every refresh by a single conditional `UPDATE`: of concurrent refreshes
//! with one token, the first to update the row wins and the others find
//! the hash already changed. Every rotated-away hash is kept
//! (`rotated_refresh_tokens`): one presented again after the grace period
//! means a token leaked, and the whole session is revoked.

use chrono::{DateTime, Utc};
use olympus_contracts::event::data;
use olympus_contracts::shapes::{Role, Tokens, User};
use olympus_contracts::{ErrorCode, Secret};
use olympus_runtime::outbox::{Event, Events};
use olympus_runtime::{opaque, App, Error, Meta};
use sqlx::PgConnection;
use uuid::Uuid;

/// How long a just-rotated token may be presented again (by a client
/// retrying concurrently) without being taken for a stolen one.
pub const REUSE_GRACE_SECS: i64 = 5;

/// Opens a session for `user` and returns its first token pair and its id.
/// The connection must be in the user's tenant scope; commit to keep it.
pub async fn open(
    app: &App,
    conn: &mut PgConnection,
    user: &User,
    meta: &Meta,
) -> Result<(Tokens, Uuid), Error> {
    let session_id = Uuid::now_v7();
    let refresh = opaque::generate(user.tenant_id);
    let ttl = app.config().refresh_token_ttl;
    let now = app.now();
    sqlx::query(
        "INSERT INTO sessions (id, tenant_id, user_id, refresh_hash, created_at, last_used_at,
                               expires_at, ip, user_agent)
         VALUES ($1, $2, $3, $4, $5, $5, $5 + make_interval(secs => $6), $7, $8)",
    )
    .bind(session_id)
    .bind(user.tenant_id)
    .bind(user.id)
    .bind(&refresh.hash)
    .bind(now)
    .bind(ttl as f64)
    .bind(meta.client_ip.as_deref())
    .bind(meta.user_agent.as_deref())
    .execute(conn)
    .await?;
    let pair = tokens(
        app,
        user.id,
        user.tenant_id,
        session_id,
        user.role,
        now,
        refresh.token,
        ttl,
    )?;
    Ok((pair, session_id))
}

#[allow(clippy::too_many_arguments)]
fn tokens(
    app: &App,
    user_id: Uuid,
    tenant_id: Uuid,
    session_id: Uuid,
    role: Role,
    now: DateTime<Utc>,
    refresh_token: String,
    refresh_expires_in: u64,
) -> Result<Tokens, Error> {
    let access = app
        .tokens()
        .issue(user_id, tenant_id, session_id, role, now)?;
    Ok(Tokens {
        access_token: Secret::new(access),
        token_type: "Bearer".to_owned(),
        expires_in: app.tokens().ttl_secs(),
        refresh_token: Secret::new(refresh_token),
        refresh_expires_in,
    })
}

fn invalid_token() -> Error {
    Error::new(ErrorCode::InvalidToken)
}

/// Exchanges a refresh token for a new pair, invalidating it.
pub async fn rotate(app: &App, events: &Events<'_>, presented: &Secret) -> Result<Tokens, Error> {
    let (tenant_id, hash) = opaque::parse(presented.expose()).ok_or_else(invalid_token)?;
    let next = opaque::generate(tenant_id);
    let mut tx = app.db().tenant(tenant_id).await?;
    let now = app.now();
    let rotated: Option<(Uuid, Uuid, String, f64)> = sqlx::query_as(
        "UPDATE sessions s
            SET refresh_hash = $2, rotated_at = $3, last_used_at = $3
           FROM users u, tenants t
          WHERE s.refresh_hash = $1 AND s.revoked_at IS NULL AND s.expires_at > $3
            AND u.id = s.user_id AND t.id = s.tenant_id AND t.status = 'active'
      RETURNING s.id, s.user_id, u.role, extract(epoch FROM s.expires_at - $3)::float8",
    )
    .bind(&hash)
    .bind(&next.hash)
    .bind(now)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((session_id, user_id, role, remaining)) = rotated else {
        let revoked = revoke_if_reused(&mut tx, events, tenant_id, &hash, now).await?;
        tx.commit().await?;
        if let Some(session_id) = revoked {
            app.announce_revoked(&[session_id]).await;
        }
        return Err(invalid_token());
    };
    sqlx::query(
        "INSERT INTO rotated_refresh_tokens (token_hash, tenant_id, session_id, rotated_at)
         VALUES ($1, $2, $3, $4)",
    )
    .bind(&hash)
    .bind(tenant_id)
    .bind(session_id)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    let role = Role::parse(&role)
        .ok_or_else(|| Error::internal(anyhow::anyhow!("user {user_id} has role {role:?}")))?;
    let pair = tokens(
        app,
        user_id,
        tenant_id,
        session_id,
        role,
        now,
        next.token,
        remaining.max(0.0) as u64,
    )?;
    tx.commit().await?;
    Ok(pair)
}

/// A token that was rotated away (at any point in the session's life),
/// presented after the grace period, revokes its session.
async fn revoke_if_reused(
    conn: &mut PgConnection,
    events: &Events<'_>,
    tenant_id: Uuid,
    hash: &[u8],
    now: DateTime<Utc>,
) -> Result<Option<Uuid>, Error> {
    let revoked: Option<(Uuid, Uuid)> = sqlx::query_as(
        "UPDATE sessions s SET revoked_at = $3
           FROM rotated_refresh_tokens r
          WHERE r.token_hash = $1 AND s.id = r.session_id AND s.revoked_at IS NULL
            AND r.rotated_at < $3 - make_interval(secs => $2)
      RETURNING s.id, s.user_id",
    )
    .bind(hash)
    .bind(REUSE_GRACE_SECS as f64)
    .bind(now)
    .fetch_optional(&mut *conn)
    .await?;
    if let Some((session_id, user_id)) = revoked {
        tracing::warn!(%session_id, "a rotated refresh token was reused: session revoked");
        events
            .emit(
                conn,
                Event::new(
                    tenant_id,
                    user_id,
                    &data::SessionRevoked {
                        user_id,
                        session_id,
                        reason: data::RevocationReason::RefreshTokenReused,
                    },
                ),
            )
            .await?;
    }
    Ok(revoked.map(|(session_id, _)| session_id))
}

/// Logs out: revokes the session of a refresh token and records
/// `user.logged_out` and `session.revoked`; returns the session and user.
pub async fn revoke(
    app: &App,
    events: &Events<'_>,
    presented: &Secret,
) -> Result<(Uuid, Uuid), Error> {
    let (tenant_id, hash) = opaque::parse(presented.expose()).ok_or_else(invalid_token)?;
    let mut tx = app.db().tenant(tenant_id).await?;
    let revoked: Option<(Uuid, Uuid)> = sqlx::query_as(
        "UPDATE sessions SET revoked_at = $2
          WHERE refresh_hash = $1 AND revoked_at IS NULL AND expires_at > $2
      RETURNING id, user_id",
    )
    .bind(&hash)
    .bind(app.now())
    .fetch_optional(&mut *tx)
    .await?;
    let (session_id, user_id) = revoked.ok_or_else(invalid_token)?;
    let events = events.clone().actor(user_id);
    events
        .emit(
            &mut tx,
            Event::new(
                tenant_id,
                user_id,
                &data::UserLoggedOut {
                    user_id,
                    session_id,
                },
            ),
        )
        .await?;
    events
        .emit(
            &mut tx,
            Event::new(
                tenant_id,
                user_id,
                &data::SessionRevoked {
                    user_id,
                    session_id,
                    reason: data::RevocationReason::Logout,
                },
            ),
        )
        .await?;
    tx.commit().await?;
    Ok((session_id, user_id))
}

/// Revokes every live session of `user_id` (in the connection's tenant
/// scope), recording `session.revoked` with `reason` for each; returns
/// their ids.
pub async fn revoke_all(
    conn: &mut PgConnection,
    events: &Events<'_>,
    user: (Uuid, Uuid),
    now: DateTime<Utc>,
    reason: data::RevocationReason,
) -> Result<Vec<Uuid>, Error> {
    let (tenant_id, user_id) = user;
    let revoked: Vec<Uuid> = sqlx::query_scalar(
        "UPDATE sessions SET revoked_at = $2
          WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $2
      RETURNING id",
    )
    .bind(user_id)
    .bind(now)
    .fetch_all(&mut *conn)
    .await?;
    for &session_id in &revoked {
        events
            .emit(
                &mut *conn,
                Event::new(
                    tenant_id,
                    user_id,
                    &data::SessionRevoked {
                        user_id,
                        session_id,
                        reason,
                    },
                ),
            )
            .await?;
    }
    Ok(revoked)
}
