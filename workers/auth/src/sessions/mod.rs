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

/// A session about to be opened: its id, its first refresh token, when it
/// opens and how long it lives.
struct Opening {
    session_id: Uuid,
    refresh: opaque::NewToken,
    ttl_secs: u64,
    now: chrono::DateTime<chrono::Utc>,
}

impl Opening {
    fn new(app: &App, tenant_id: Uuid, session_id: Uuid) -> Self {
        Self {
            session_id,
            refresh: opaque::generate(tenant_id),
            ttl_secs: app.config().refresh_token_ttl,
            now: app.now(),
        }
    }

    /// The session's row, of `user_id` in `tenant_id`, from `meta`'s caller.
    fn row<'a>(
        &'a self,
        (tenant_id, user_id): (Uuid, Uuid),
        meta: &'a Meta,
    ) -> store::NewSession<'a> {
        store::NewSession {
            id: self.session_id,
            tenant_id,
            user_id,
            refresh_hash: &self.refresh.hash,
            ttl_secs: self.ttl_secs,
            ip: meta.client_ip.as_deref(),
            user_agent: meta.user_agent.as_deref(),
        }
    }

    /// The session's first token pair, once its row is written.
    fn tokens(self, app: &App, user: &User) -> Result<Tokens, Error> {
        let holder = Holder {
            user_id: user.id,
            tenant_id: user.tenant_id,
            session_id: self.session_id,
            role: user.role,
        };
        tokens::pair(app, holder, self.now, self.refresh.token, self.ttl_secs)
    }
}

/// Opens a session for `user` and returns its first token pair and its id.
/// The connection must be in the user's tenant scope; commit to keep it.
pub async fn open(
    app: &App,
    conn: &mut PgConnection,
    user: &User,
    meta: &Meta,
) -> Result<(Tokens, Uuid), Error> {
    let opening = Opening::new(app, user.tenant_id, Uuid::now_v7());
    let row = opening.row((user.tenant_id, user.id), meta);
    store::insert(conn, row, opening.now).await?;
    let session_id = opening.session_id;
    Ok((opening.tokens(app, user)?, session_id))
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
    let opening = Opening::new(app, tenant_id, session_id);
    let row = opening.row((tenant_id, user_id), meta);
    let opened = store::open_at_login(app.db().app_pool(), row, opening.now, logged_in).await?;
    let Some(user) = opened else {
        return Ok(None);
    };
    let user = user.into_user()?;
    let tokens = opening.tokens(app, &user)?;
    Ok(Some((user, tokens)))
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
        olympus_runtime::db::commit(tx).await?;
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
    olympus_runtime::db::commit(tx).await?;
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
