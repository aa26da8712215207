//! The `sessions` and `rotated_refresh_tokens` tables: every statement on
//! them, each taking a connection in the session's tenant scope (or, for
//! [`rotate`] and [`open_at_login`], the app pool and the tenant) and the time from the caller
//! (the app's clock). What they mean (events, tokens,
//! announcements) is in [`super`].

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
    pub refresh_hash: &'a [u8],
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
        "INSERT INTO sessions (id, tenant_id, user_id, refresh_hash, created_at, last_used_at,
                               expires_at, ip, user_agent, auth_time, amr)
         VALUES ($1, $2, $3, $4, $5, $5, $5::timestamptz + make_interval(secs => $6), $7, $8,
                 $9, $10)",
    )
    .bind(new.id)
    .bind(new.tenant_id)
    .bind(new.user_id)
    .bind(new.refresh_hash)
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

/// Opens a login's session in one call (`olympus_open_login_session`,
/// migration 0020), committed with it: the user's failures cleared and
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
        args.add(new.refresh_hash)?;
        args.add(new.ttl_secs as f64)?;
        args.add(new.ip)?;
        args.add(new.user_agent)
    })();
    added.map_err(|e| Error::internal(anyhow::anyhow!("binding a login's session: {e}")))?;
    logged_in.add_to(&mut args)?;
    let statement = format!(
        "SELECT {USER_COLUMNS} FROM olympus_open_login_session(
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

/// Replaces the refresh hash `hash` of a live session of an active tenant
/// by `next`, in one conditional statement: of concurrent rotations of one
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
    #[derive(sqlx::FromRow)]
    struct Row {
        session_id: Uuid,
        user_id: Uuid,
        role: String,
        remaining: f64,
        auth_time: DateTime<Utc>,
        amr: Vec<String>,
    }
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
    let Some(Row {
        session_id,
        user_id,
        role,
        remaining,
        auth_time,
        amr,
    }) = rotated
    else {
        return Ok(None);
    };
    let role = Role::parse(&role)
        .ok_or_else(|| Error::internal(anyhow::anyhow!("user {user_id} has role {role:?}")))?;
    Ok(Some(Rotated {
        session_id,
        user_id,
        role,
        remaining_secs: remaining.max(0.0) as u64,
        login: super::Login { amr, at: auth_time },
    }))
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
