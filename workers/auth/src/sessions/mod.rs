//! Sessions and their refresh tokens: what opening, rotating and revoking
//! mean (tokens, events, announcements); the statements are in [`store`].
//!
//! A session is one login. Its refresh token is opaque (see
//! [`crate::opaque`]), stored only as a hash, and replaced on every refresh
//! by a single conditional `UPDATE`: of concurrent refreshes with one
//! token, the first to update the row wins and the others find the hash
//! already changed. Every rotated-away hash is kept
//! (`rotated_refresh_tokens`): one presented again after the grace period
//! means a token leaked, and the whole session is revoked.

pub mod store;

use olympus_contracts::event::data;
use olympus_contracts::shapes::{Tokens, User};
use olympus_contracts::{ErrorCode, Secret};
use olympus_runtime::outbox::{Event, Events, Prepared};
use olympus_runtime::{App, Error, Meta};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::opaque;
use crate::tokens::{self, Holder};

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
    let ttl_secs = app.config().refresh_token_ttl;
    let now = app.now();
    store::insert(
        conn,
        store::NewSession {
            id: session_id,
            tenant_id: user.tenant_id,
            user_id: user.id,
            refresh_hash: &refresh.hash,
            ttl_secs,
            ip: meta.client_ip.as_deref(),
            user_agent: meta.user_agent.as_deref(),
        },
        now,
    )
    .await?;
    let holder = Holder {
        user_id: user.id,
        tenant_id: user.tenant_id,
        session_id,
        role: user.role,
    };
    let pair = tokens::pair(app, holder, now, refresh.token, ttl_secs)?;
    Ok((pair, session_id))
}

/// Opens the session of a login whose password matched, in one round trip
/// (see [`store::open_at_login`]), recording `logged_in` (made with
/// [`Events::prepare`]) with it. The user and the session's first token
/// pair; `None` when the user is gone.
pub async fn open_at_login(
    app: &App,
    (tenant_id, user_id, session_id): (Uuid, Uuid, Uuid),
    meta: &Meta,
    logged_in: &Prepared,
) -> Result<Option<(User, Tokens)>, Error> {
    let refresh = opaque::generate(tenant_id);
    let ttl_secs = app.config().refresh_token_ttl;
    let now = app.now();
    let new = store::NewSession {
        id: session_id,
        tenant_id,
        user_id,
        refresh_hash: &refresh.hash,
        ttl_secs,
        ip: meta.client_ip.as_deref(),
        user_agent: meta.user_agent.as_deref(),
    };
    let Some(user) = store::open_at_login(app.db().app_pool(), new, now, logged_in).await? else {
        return Ok(None);
    };
    let user = user.into_user()?;
    let holder = Holder {
        user_id,
        tenant_id,
        session_id,
        role: user.role,
    };
    let pair = tokens::pair(app, holder, now, refresh.token, ttl_secs)?;
    Ok(Some((user, pair)))
}

fn invalid_token() -> Error {
    Error::new(ErrorCode::InvalidToken)
}

/// Exchanges a refresh token for a new pair, invalidating it. A token
/// rotated away longer than the grace period ago revokes its session.
pub async fn rotate(app: &App, events: &Events<'_>, presented: &Secret) -> Result<Tokens, Error> {
    let (tenant_id, hash) = opaque::parse(presented.expose()).ok_or_else(invalid_token)?;
    let next = opaque::generate(tenant_id);
    let now = app.now();
    let rotated = store::rotate(app.db().app_pool(), (tenant_id, &hash), &next.hash, now).await?;
    let Some(rotated) = rotated else {
        // Rare: a token that is no session's current one. Was it one?
        let mut tx = app.db().tenant(tenant_id).await?;
        let reused = store::revoke_reused(&mut tx, &hash, REUSE_GRACE_SECS, now).await?;
        if let Some((session_id, user_id)) = reused {
            tracing::warn!(%session_id, "a rotated refresh token was reused: session revoked");
            events
                .emit(
                    &mut tx,
                    revoked_event(
                        (tenant_id, user_id, session_id),
                        data::RevocationReason::RefreshTokenReused,
                    ),
                )
                .await?;
        }
        tx.commit().await?;
        if let Some((session_id, _)) = reused {
            app.announce_revoked(&[session_id]).await;
        }
        return Err(invalid_token());
    };
    let holder = Holder {
        user_id: rotated.user_id,
        tenant_id,
        session_id: rotated.session_id,
        role: rotated.role,
    };
    tokens::pair(app, holder, now, next.token, rotated.remaining_secs)
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
    let (session_id, user_id) = store::revoke_by_refresh(&mut tx, &hash, app.now())
        .await?
        .ok_or_else(invalid_token)?;
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
            revoked_event(
                (tenant_id, user_id, session_id),
                data::RevocationReason::Logout,
            ),
        )
        .await?;
    tx.commit().await?;
    Ok((session_id, user_id))
}

/// Revokes every live session of `user_id` (in the connection's tenant
/// scope), recording `session.revoked` with `reason` for each; returns
/// their ids, to announce once the transaction commits.
pub async fn revoke_all(
    conn: &mut PgConnection,
    events: &Events<'_>,
    (tenant_id, user_id): (Uuid, Uuid),
    now: chrono::DateTime<chrono::Utc>,
    reason: data::RevocationReason,
) -> Result<Vec<Uuid>, Error> {
    let revoked = store::revoke_user(&mut *conn, user_id, now).await?;
    for &session_id in &revoked {
        events
            .emit(
                &mut *conn,
                revoked_event((tenant_id, user_id, session_id), reason),
            )
            .await?;
    }
    Ok(revoked)
}

/// `session.revoked` of `(tenant, user, session)`.
fn revoked_event(
    (tenant_id, user_id, session_id): (Uuid, Uuid, Uuid),
    reason: data::RevocationReason,
) -> Event {
    Event::new(
        tenant_id,
        user_id,
        &data::SessionRevoked {
            user_id,
            session_id,
            reason,
        },
    )
}
