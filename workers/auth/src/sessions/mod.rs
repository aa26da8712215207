//! Sessions and their refresh tokens: what opening, rotating and revoking
//! mean (tokens, events, announcements); the statements are in [`store`].
//!
//! A session is one login. Its refresh token names it and its generation
//! ([`token`]); the session stores only the token's digest, replaced with
//! the next generation's on every refresh by a single conditional `UPDATE`
//! of the session's row, in place: of concurrent refreshes with one
//! token, the first to update the row wins and the others find it already
//! changed. A genuine token of an earlier generation presented after the
//! grace period means a token leaked, and the whole session is revoked.
//!
//! Sessions opened before migration 0036 have opaque refresh tokens
//! ([`crate::opaque`]), stored as a unique hash and rotated as they were,
//! each rotated-away hash kept (`rotated_refresh_tokens`) to recognise its
//! reuse, until they expire.

pub mod store;
pub mod token;

use chrono::{DateTime, Utc};
use olympus_contracts::event::data;
use olympus_contracts::shapes::{Tokens, User};
use olympus_contracts::{ErrorCode, Secret};
use olympus_runtime::outbox::Prepared;
use olympus_runtime::tokens::{Claims, AMR_PASSWORD};
use olympus_runtime::{Ctx, Error, Tx};
use uuid::Uuid;

use crate::keys::Kek;
use crate::opaque;
use crate::tokens::{self, Holder};

/// How long a just-rotated token may be presented again (by a client
/// retrying concurrently) without being taken for a stolen one.
pub const REUSE_GRACE_SECS: i64 = 5;

/// How a session's login proved who it was, and when: the `amr` and
/// `auth_time` of every access token of the session.
#[derive(Debug, Clone)]
pub struct Login {
    pub amr: Vec<String>,
    pub at: DateTime<Utc>,
}

impl Login {
    /// A password login at `at`.
    pub fn password(at: DateTime<Utc>) -> Self {
        Self {
            amr: vec![AMR_PASSWORD.to_owned()],
            at,
        }
    }

    /// The login of the session whose access token has `claims`.
    pub fn of(claims: &Claims) -> Self {
        Self {
            amr: claims.amr.clone(),
            at: DateTime::from_timestamp(claims.auth_time, 0).unwrap_or_default(),
        }
    }
}

/// A session about to be opened: its id, its first refresh token, when it
/// opens and how long it lives, and its login.
struct Opening {
    session_id: Uuid,
    refresh: token::Issued,
    ttl_secs: u64,
    now: DateTime<Utc>,
    login: Login,
}

impl Opening {
    /// A session opened now; `login: None` is a password login now (the
    /// same instant as the session's, so `auth_time` equals `iat`).
    fn new(
        ctx: &Ctx,
        tenant_id: Uuid,
        session_id: Uuid,
        login: Option<Login>,
    ) -> Result<Self, Error> {
        let now = ctx.now();
        Ok(Self {
            session_id,
            refresh: token::issue(&*kek(ctx)?, tenant_id, session_id, 0),
            ttl_secs: ctx.config().refresh_token_ttl,
            now,
            login: login.unwrap_or_else(|| Login::password(now)),
        })
    }

    /// The session's row, of `user_id` in `tenant_id`, from the request's
    /// client.
    fn row<'a>(
        &'a self,
        (tenant_id, user_id): (Uuid, Uuid),
        ctx: &'a Ctx,
    ) -> store::NewSession<'a> {
        store::NewSession {
            id: self.session_id,
            tenant_id,
            user_id,
            refresh_digest: &self.refresh.digest,
            ttl_secs: self.ttl_secs,
            ip: ctx.request().client_ip.as_deref(),
            user_agent: ctx.request().user_agent.as_deref(),
            login: &self.login,
        }
    }

    /// The session's first token pair, once its row is written.
    async fn tokens(self, ctx: &Ctx, user: &User) -> Result<Tokens, Error> {
        let holder = Holder {
            user_id: user.id,
            tenant_id: user.tenant_id,
            session_id: self.session_id,
            role: user.role,
            amr: self.login.amr,
            auth_time: self.login.at,
        };
        tokens::pair(
            ctx.app(),
            holder,
            self.now,
            self.refresh.token,
            self.ttl_secs,
        )
        .await
    }
}

/// Opens a session of `login` (`None`: a password login now) for `user` in
/// `tx` (the user's tenant's) and returns its first token pair and its id.
pub async fn open(
    ctx: &Ctx,
    tx: &mut Tx<'_>,
    user: &User,
    login: Option<Login>,
) -> Result<(Tokens, Uuid), Error> {
    let opening = Opening::new(ctx, user.tenant_id, Uuid::now_v7(), login)?;
    let row = opening.row((user.tenant_id, user.id), ctx);
    store::insert(tx, row, opening.now).await?;
    let session_id = opening.session_id;
    Ok((opening.tokens(ctx, user).await?, session_id))
}

/// Opens the session of a login whose password matched, in one statement
/// that commits by itself (see [`store::open_at_login`]), recording
/// `logged_in` (made with `Events::prepare`) with it. The user and the
/// session's first token pair; `None` when the user is gone.
pub async fn open_at_login(
    ctx: &Ctx,
    (tenant_id, user_id, session_id): (Uuid, Uuid, Uuid),
    logged_in: &Prepared,
) -> Result<Option<(User, Tokens)>, Error> {
    let opening = Opening::new(ctx, tenant_id, session_id, None)?;
    let row = opening.row((tenant_id, user_id), ctx);
    let opened = store::open_at_login(ctx, row, opening.now, logged_in).await?;
    let Some(user) = opened else {
        return Ok(None);
    };
    let user = user.into_user()?;
    let tokens = opening.tokens(ctx, &user).await?;
    Ok(Some((user, tokens)))
}

fn invalid_token() -> Error {
    Error::new(ErrorCode::InvalidToken)
}

fn kek(ctx: &Ctx) -> Result<std::sync::Arc<Kek>, Error> {
    Kek::of(ctx.app()).map_err(Error::internal)
}

/// Exchanges a refresh token for a new pair, invalidating it. A token
/// rotated away longer than the grace period ago revokes its session.
pub async fn rotate(ctx: &Ctx, presented: &Secret) -> Result<Tokens, Error> {
    let kek = kek(ctx)?;
    if let Some(presented) = token::parse(&kek, presented.expose()) {
        return rotate_in_place(ctx, &kek, presented).await;
    }
    let (tenant_id, hash) = opaque::parse(presented.expose()).ok_or_else(invalid_token)?;
    let next = opaque::generate(tenant_id);
    let now = ctx.now();
    let rotated = store::rotate(ctx, (tenant_id, &hash), &next.hash, now).await?;
    let Some(rotated) = rotated else {
        // Rare: a token that is no session's current one. Was it one? Its
        // session is revoked even though this request fails.
        revoke_for_reuse(ctx, tenant_id, Reused::Hash(&hash), now).await?;
        return Err(invalid_token());
    };
    pair(ctx, tenant_id, rotated, now, next.token).await
}

/// [`rotate`] of a token that names its session ([`token`]).
async fn rotate_in_place(
    ctx: &Ctx,
    kek: &Kek,
    presented: token::Presented,
) -> Result<Tokens, Error> {
    let (tenant_id, session_id) = (presented.tenant_id, presented.session_id);
    // No token the server issued is of the last generation.
    let generation = presented
        .generation
        .checked_add(1)
        .ok_or_else(invalid_token)?;
    let next = token::issue(kek, tenant_id, session_id, generation);
    let now = ctx.now();
    let rotated = store::rotate_in_place(ctx, &presented, &next.digest, now).await?;
    let Some(rotated) = rotated else {
        // Not the session's current token. One the server issued, of an
        // earlier generation, was rotated away: its session is revoked
        // even though this request fails. One it did not issue (naming a
        // session is not knowing its token) revokes nothing.
        if presented.authentic {
            let stale = Reused::Generation(session_id, presented.generation);
            revoke_for_reuse(ctx, tenant_id, stale, now).await?;
        }
        return Err(invalid_token());
    };
    pair(ctx, tenant_id, rotated, now, next.token).await
}

/// A refresh token that is no session's current one, in either form.
enum Reused<'a> {
    /// The hash of a token of the former form.
    Hash(&'a [u8]),
    /// A genuine token naming its session, of this generation.
    Generation(Uuid, i64),
}

/// Revokes the session `reused` was rotated away from, if it was and its
/// grace period is over, in `tenant_id`, recording `session.revoked`
/// (`refresh_token_reused`) with it and announcing it once committed.
async fn revoke_for_reuse(
    ctx: &Ctx,
    tenant_id: Uuid,
    reused: Reused<'_>,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    let revoked = ctx
        .apart(Some(tenant_id), async |tx| {
            let revoked = match reused {
                Reused::Hash(hash) => store::revoke_reused(tx, hash, REUSE_GRACE_SECS, now).await?,
                Reused::Generation(session_id, generation) => {
                    let stale = (session_id, generation);
                    store::revoke_stale(tx, stale, REUSE_GRACE_SECS, now).await?
                }
            };
            if let Some((session_id, user_id)) = revoked {
                tracing::warn!(%session_id, "a rotated refresh token was reused: session revoked");
                let reason = data::RevocationReason::RefreshTokenReused;
                let event = data::SessionRevoked {
                    user_id,
                    session_id,
                    reason,
                };
                tx.emit(user_id, &event).await?;
            }
            Ok(revoked)
        })
        .await?;
    if let Some((session_id, _)) = revoked {
        ctx.app().announce_revoked(&[session_id]).await;
    }
    Ok(())
}

/// The token pair of a rotated session, its refresh token `refresh`.
async fn pair(
    ctx: &Ctx,
    tenant_id: Uuid,
    rotated: store::Rotated,
    now: DateTime<Utc>,
    refresh: String,
) -> Result<Tokens, Error> {
    let holder = Holder {
        user_id: rotated.user_id,
        tenant_id,
        session_id: rotated.session_id,
        role: rotated.role,
        amr: rotated.login.amr,
        auth_time: rotated.login.at,
    };
    tokens::pair(ctx.app(), holder, now, refresh, rotated.remaining_secs).await
}

/// Logs out: revokes the session of a refresh token and records
/// `user.logged_out` and `session.revoked`, in the request's transaction;
/// returns the session and user.
pub async fn revoke(ctx: &Ctx, presented: &Secret) -> Result<(Uuid, Uuid), Error> {
    let revoked = if let Some(presented) = token::parse(&*kek(ctx)?, presented.expose()) {
        let mut tx = ctx.tx_in(presented.tenant_id).await?;
        let current = (presented.session_id, presented.digest.as_slice());
        let revoked = store::revoke_by_token(&mut tx, current, ctx.now()).await?;
        revoked.map(|revoked| (tx, revoked))
    } else {
        let (tenant_id, hash) = opaque::parse(presented.expose()).ok_or_else(invalid_token)?;
        let mut tx = ctx.tx_in(tenant_id).await?;
        let revoked = store::revoke_by_refresh(&mut tx, &hash, ctx.now()).await?;
        revoked.map(|revoked| (tx, revoked))
    };
    let (mut tx, (session_id, user_id)) = revoked.ok_or_else(invalid_token)?;
    let logged_out = data::UserLoggedOut {
        user_id,
        session_id,
    };
    tx.emit_by(user_id, user_id, &logged_out).await?;
    let reason = data::RevocationReason::Logout;
    let revoked = data::SessionRevoked {
        user_id,
        session_id,
        reason,
    };
    tx.emit_by(user_id, user_id, &revoked).await?;
    Ok((session_id, user_id))
}

/// Revokes every live session of `user_id` in `tx` (the user's tenant's),
/// recording `session.revoked` with `reason` for each; returns their ids,
/// to announce once the transaction commits ([`Ctx::announce_revoked`]).
pub async fn revoke_all(
    tx: &mut Tx<'_>,
    user_id: Uuid,
    reason: data::RevocationReason,
) -> Result<Vec<Uuid>, Error> {
    revoke_all_but(tx, user_id, None, reason).await
}

/// [`revoke_all`] but the session `except` (the caller's own).
pub async fn revoke_all_but(
    tx: &mut Tx<'_>,
    user_id: Uuid,
    except: Option<Uuid>,
    reason: data::RevocationReason,
) -> Result<Vec<Uuid>, Error> {
    let now = tx.now();
    let revoked = store::revoke_user(tx, user_id, except, now).await?;
    for &session_id in &revoked {
        let event = data::SessionRevoked {
            user_id,
            session_id,
            reason,
        };
        tx.emit(user_id, &event).await?;
    }
    Ok(revoked)
}
