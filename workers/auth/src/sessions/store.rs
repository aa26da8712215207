//! The `sessions` and `rotated_refresh_tokens` tables: every statement on
//! them, each taking a connection in the session's tenant scope (or, for
//! [`rotate`], [`rotate_in_place`] and [`open_at_login`], the app pool
//! and the tenant) and the time from the caller (the app's clock). What
//! they mean (events, tokens, announcements) is in [`super`].
//!
//! Sessions are opened in the form whose refresh tokens name them
//! ([`super::token`]: a digest and a generation, updated in place);
//! sessions of the former form (a unique `refresh_hash`) rotate as they
//! did until they expire (migration 0036).

use chrono::{DateTime, Utc};
use olympus_contracts::shapes::Role;
use olympus_runtime::outbox::Prepared;
use olympus_runtime::{Ctx, Error};
use sqlx::postgres::PgArguments;
use sqlx::{Arguments, PgConnection};
use uuid::Uuid;

use crate::users::{UserRow, USER_COLUMNS};

/// A session about to be opened.
#[derive(Debug)]
pub struct NewSession<'a> {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub user_id: Uuid,
    /// The digest of its first refresh token (generation 0).
    pub refresh_digest: &'a [u8],
    pub ttl_secs: u64,
    pub ip: Option<&'a str>,
    pub user_agent: Option<&'a str>,
    pub login: &'a super::Login,
}

/// Inserts a session, created and last used `now`.
pub async fn insert(
    conn: &mut PgConnection,
    new: NewSession<'_>,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    sqlx::query(
        "INSERT INTO sessions (id, tenant_id, user_id, refresh_digest, refresh_generation,
                               created_at, last_used_at, expires_at, ip, user_agent, auth_time,
                               amr)
         VALUES ($1, $2, $3, $4, 0, $5, $5, $5::timestamptz + make_interval(secs => $6), $7, $8,
                 $9, $10)",
    )
    .bind(new.id)
    .bind(new.tenant_id)
    .bind(new.user_id)
    .bind(new.refresh_digest)
    .bind(now)
    .bind(new.ttl_secs as f64)
    .bind(new.ip)
    .bind(new.user_agent)
    .bind(new.login.at)
    .bind(&new.login.amr)
    .execute(conn)
    .await?;
    Ok(())
}

/// Opens a login's session in one call
/// (`olympus_open_login_session_in_place`, migrations 0020 and 0036),
/// committed with it: the user's failures cleared and
/// login time recorded, the session inserted, `logged_in` recorded. The
/// user as the contract shows them; `None`, with nothing written, when the
/// user is gone.
pub async fn open_at_login(
    ctx: &Ctx,
    new: NewSession<'_>,
    now: DateTime<Utc>,
    logged_in: &Prepared,
) -> Result<Option<UserRow>, Error> {
    let mut args = PgArguments::default();
    let added = (|| {
        args.add(new.tenant_id)?;
        args.add(new.user_id)?;
        args.add(now)?;
        args.add(new.id)?;
        args.add(new.refresh_digest)?;
        args.add(new.ttl_secs as f64)?;
        args.add(new.ip)?;
        args.add(new.user_agent)
    })();
    added.map_err(|e| Error::internal(anyhow::anyhow!("binding a login's session: {e}")))?;
    logged_in.add_to(&mut args)?;
    let statement = format!(
        "SELECT {USER_COLUMNS} FROM olympus_open_login_session_in_place(
             $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)"
    );
    // It commits by itself: cut or lost in flight, its outcome is unknown.
    ctx.autocommit(|pool| sqlx::query_as_with(&statement, args).fetch_optional(pool))
        .await
}

/// A session whose refresh token was just replaced.
#[derive(Debug)]
pub struct Rotated {
    pub session_id: Uuid,
    pub user_id: Uuid,
    pub role: Role,
    /// Seconds until the session (and so its new refresh token) expires.
    pub remaining_secs: u64,
    /// The session's login.
    pub login: super::Login,
}

/// Replaces the refresh hash `hash` of a live session of the former form
/// (migration 0036) of an active tenant by `next`, in one conditional
/// statement: of concurrent rotations of one
/// hash, exactly one finds it. The old hash is kept in
/// `rotated_refresh_tokens` for reuse detection.
///
/// One round trip on the app pool, outside any transaction: the call
/// enters the tenant, rotates and commits
/// (`migrations/0017_refresh_in_one_statement.sql`).
pub async fn rotate(
    ctx: &Ctx,
    (tenant_id, hash): (Uuid, &[u8]),
    next: &[u8],
    now: DateTime<Utc>,
) -> Result<Option<Rotated>, Error> {
    // It commits by itself: cut or lost in flight, its outcome is unknown.
    let rotated: Option<Row> = ctx
        .autocommit(|pool| {
            sqlx::query_as(
                "SELECT session_id, user_id, role, remaining, auth_time, amr
                   FROM olympus_rotate_session($1, $2, $3, $4)",
            )
            .bind(tenant_id)
            .bind(hash)
            .bind(next)
            .bind(now)
            .fetch_optional(pool)
        })
        .await?;
    rotated.map(Row::into_rotated).transpose()
}

/// Replaces the current refresh token of the session `presented` names,
/// when it is `presented` (its generation and digest) and the session is
/// live in an active tenant, by the next generation's, `next`: one
/// `UPDATE` of the session's row by its id, of columns no index covers
/// (`olympus_rotate_session_in_place`, migration 0036). Of concurrent
/// rotations of one token, exactly one finds it.
///
/// One round trip on the app pool, outside any transaction, as
/// [`rotate`].
pub async fn rotate_in_place(
    ctx: &Ctx,
    presented: &super::token::Presented,
    next: &[u8],
    now: DateTime<Utc>,
) -> Result<Option<Rotated>, Error> {
    // It commits by itself: cut or lost in flight, its outcome is unknown.
    let rotated: Option<Row> = ctx
        .autocommit(|pool| {
            sqlx::query_as(
                "SELECT session_id, user_id, role, remaining, auth_time, amr
                   FROM olympus_rotate_session_in_place($1, $2, $3, $4, $5, $6)",
            )
            .bind(presented.tenant_id)
            .bind(presented.session_id)
            .bind(presented.generation)
            .bind(&presented.digest)
            .bind(next)
            .bind(now)
            .fetch_optional(pool)
        })
        .await?;
    rotated.map(Row::into_rotated).transpose()
}

/// What both rotations return.
#[derive(sqlx::FromRow)]
struct Row {
    session_id: Uuid,
    user_id: Uuid,
    role: String,
    remaining: f64,
    auth_time: DateTime<Utc>,
    amr: Vec<String>,
}

impl Row {
    fn into_rotated(self) -> Result<Rotated, Error> {
        let Self {
            session_id,
            user_id,
            role,
            remaining,
            auth_time,
            amr,
        } = self;
        let role = Role::parse(&role)
            .ok_or_else(|| Error::internal(anyhow::anyhow!("user {user_id} has role {role:?}")))?;
        Ok(Rotated {
            session_id,
            user_id,
            role,
            remaining_secs: remaining.max(0.0) as u64,
            login: super::Login { amr, at: auth_time },
        })
    }
}

/// Revokes the live (unexpired, unrevoked) session `session_id` when its
/// refresh token is of a later generation than `generation`: a token rotated away presented
/// again. Not within `grace_secs` of that token's own rotation (a client
/// retrying a refresh it sent concurrently), when it is one of the last
/// 8 rotated away (`recent_rotations`: element `i` of `n` is generation
/// `refresh_generation - n + i - 1`'s). Its session and user.
pub async fn revoke_stale(
    conn: &mut PgConnection,
    (session_id, generation): (Uuid, i64),
    grace_secs: i64,
    now: DateTime<Utc>,
) -> Result<Option<(Uuid, Uuid)>, Error> {
    Ok(sqlx::query_as(
        "UPDATE sessions SET revoked_at = $4
          WHERE id = $1 AND revoked_at IS NULL AND expires_at > $4
            AND refresh_generation > $2
            AND NOT coalesce(
                recent_rotations[$2 - (refresh_generation - cardinality(recent_rotations)) + 1]
                    >= $4::timestamptz - make_interval(secs => $3),
                false)
      RETURNING id, user_id",
    )
    .bind(session_id)
    .bind(generation)
    .bind(grace_secs as f64)
    .bind(now)
    .fetch_optional(conn)
    .await?)
}

/// Revokes the live session `session_id` whose current refresh token has
/// the digest `digest`; its session and user.
pub async fn revoke_by_token(
    conn: &mut PgConnection,
    (session_id, digest): (Uuid, &[u8]),
    now: DateTime<Utc>,
) -> Result<Option<(Uuid, Uuid)>, Error> {
    Ok(sqlx::query_as(
        "UPDATE sessions SET revoked_at = $3
          WHERE id = $1 AND refresh_digest = $2 AND revoked_at IS NULL AND expires_at > $3
      RETURNING id, user_id",
    )
    .bind(session_id)
    .bind(digest)
    .bind(now)
    .fetch_optional(conn)
    .await?)
}

/// Revokes the live session that once had the refresh hash `hash`, when
/// it was rotated away more than `grace_secs` ago; its session and user.
pub async fn revoke_reused(
    conn: &mut PgConnection,
    hash: &[u8],
    grace_secs: i64,
    now: DateTime<Utc>,
) -> Result<Option<(Uuid, Uuid)>, Error> {
    Ok(sqlx::query_as(
        "UPDATE sessions s SET revoked_at = $3
           FROM rotated_refresh_tokens r
          WHERE r.token_hash = $1 AND s.id = r.session_id AND s.revoked_at IS NULL
            AND r.rotated_at < $3::timestamptz - make_interval(secs => $2)
      RETURNING s.id, s.user_id",
    )
    .bind(hash)
    .bind(grace_secs as f64)
    .bind(now)
    .fetch_optional(conn)
    .await?)
}

/// Revokes the live session whose current refresh hash is `hash`; its
/// session and user.
pub async fn revoke_by_refresh(
    conn: &mut PgConnection,
    hash: &[u8],
    now: DateTime<Utc>,
) -> Result<Option<(Uuid, Uuid)>, Error> {
    Ok(sqlx::query_as(
        "UPDATE sessions SET revoked_at = $2
          WHERE refresh_hash = $1 AND revoked_at IS NULL AND expires_at > $2
      RETURNING id, user_id",
    )
    .bind(hash)
    .bind(now)
    .fetch_optional(conn)
    .await?)
}

/// Revokes every live session of `user_id`; their ids.
pub async fn revoke_user(
    conn: &mut PgConnection,
    user_id: Uuid,
    except: Option<Uuid>,
    now: DateTime<Utc>,
) -> Result<Vec<Uuid>, Error> {
    Ok(sqlx::query_scalar(
        "UPDATE sessions SET revoked_at = $2
          WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $2
            AND id IS DISTINCT FROM $3
      RETURNING id",
    )
    .bind(user_id)
    .bind(now)
    .bind(except)
    .fetch_all(conn)
    .await?)
}
