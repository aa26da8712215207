//! `auth.login`: a password for a session.
//!
//! Every failure (unknown tenant, unknown email, wrong password, locked
//! account, suspended tenant) is the same `invalid_credentials` reply and
//! costs the same: when there is no user, or the account is locked, the
//! password is verified against a dummy hash. The look-up transaction ends
//! before hashing, so a connection is never held while Argon2 runs. A
//! failure in a tenant that exists is recorded as `user.login_failed` (with
//! the reason, for the tenant's eyes only) after the reply.
//!
//! **Lockout.** The look-up takes the login's *try* first: one atomic
//! `UPDATE` counts it among the account's consecutive failures, and the try
//! that reaches `OLYMPUS_LOCKOUT_THRESHOLD` locks the account for
//! `OLYMPUS_LOCKOUT_SECS` right away. A success sets the count back to 0.
//! So parallel guesses cannot outrun the limit: at most that many passwords
//! are ever compared before the lock, and a locked account refuses even the
//! right one until the lock ends (or a password reset lifts it).

use chrono::{DateTime, Utc};
use olympus_contracts::auth::{LoginRequest, SessionReply};
use olympus_contracts::event::data::{self, LoginFailure};
use olympus_contracts::ErrorCode;
use olympus_runtime::db::enter_tenant;
use olympus_runtime::outbox::Event;
use olympus_runtime::{App, Call, Error, Meta};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::email::Email;
use crate::sessions;
use crate::users::{UserRow, USER_COLUMNS};

#[derive(sqlx::FromRow)]
struct Candidate {
    #[sqlx(flatten)]
    user: UserRow,
    password_hash: String,
}

/// A login's try at an account, taken before its password is compared.
#[derive(Debug, Clone, Copy)]
struct Try {
    /// Consecutive failures counting this try.
    failed_logins: i32,
    /// Set when this try reached the limit: the account is locked unless
    /// the password turns out right.
    locks_until: Option<DateTime<Utc>>,
}

/// What a login's tenant and email name, as far as they exist.
struct Lookup {
    tenant: Option<(Uuid, bool)>,
    email: Option<Email>,
    candidate: Option<Candidate>,
    /// `None` for a candidate: the account is locked.
    attempt: Option<Try>,
}

/// Handles `auth.login`.
pub async fn login(app: App, call: Call<LoginRequest>) -> Result<SessionReply, Error> {
    let LoginRequest {
        tenant,
        email,
        password,
    } = call.body;
    // First, so that a login shed for a full hashing queue costs nothing.
    let slot = app.passwords().admit()?;
    let lookup = look_up(&app, &tenant, &email).await?;
    // A locked account's hash is not compared: the dummy costs the same.
    let stored = lookup
        .candidate
        .as_ref()
        .filter(|_| lookup.attempt.is_some())
        .map(|c| c.password_hash.as_str());
    let matches = slot.verify(&password, stored).await?;
    let tenant_active = lookup.tenant.is_some_and(|(_, active)| active);
    let user = match lookup.candidate {
        Some(candidate) if matches && tenant_active => candidate.user,
        candidate => {
            let reason = match (&candidate, tenant_active, lookup.attempt) {
                (None, _, _) => LoginFailure::UnknownUser,
                (Some(_), false, _) => LoginFailure::TenantSuspended,
                (Some(_), true, None) => LoginFailure::Locked,
                (Some(_), true, Some(_)) => LoginFailure::WrongPassword,
            };
            if let Some((tenant_id, _)) = lookup.tenant {
                // After the reply, so that no failure takes longer than
                // another, and a failing write cannot change the reply.
                let failure = Failure {
                    tenant_id,
                    user_id: candidate.as_ref().map(|c| c.user.id),
                    email: lookup.email,
                    reason,
                    locked: lookup
                        .attempt
                        .filter(|_| reason == LoginFailure::WrongPassword),
                };
                let (app, meta) = (app.clone(), call.meta.clone());
                app.clone().spawn_after_reply(async move {
                    if let Err(err) = record_failure(&app, &meta, failure).await {
                        tracing::error!(error = %err, "recording user.login_failed");
                    }
                });
            }
            return Err(Error::new(ErrorCode::InvalidCredentials));
        }
    };

    let mut tx = app.db().tenant(user.tenant_id).await?;
    let user: UserRow = sqlx::query_as(&format!(
        "UPDATE users SET last_login_at = $2, failed_logins = 0, locked_until = NULL
          WHERE id = $1 RETURNING {USER_COLUMNS}"
    ))
    .bind(user.id)
    .bind(app.now())
    .fetch_one(&mut *tx)
    .await?;
    let user = user.into_user()?;
    let (tokens, session_id) = sessions::open(&app, &mut tx, &user, &call.meta).await?;
    app.events(&call.meta)
        .actor(user.id)
        .emit(
            &mut tx,
            Event::new(
                user.tenant_id,
                user.id,
                &data::UserLoggedIn {
                    user_id: user.id,
                    session_id,
                    ip: call.meta.client_ip.clone(),
                    user_agent: call.meta.user_agent.clone(),
                },
            ),
        )
        .await?;
    tx.commit().await?;
    tracing::info!(user_id = %user.id, tenant_id = %user.tenant_id, "logged in");
    Ok(SessionReply { user, tokens })
}

/// Takes a try at `user_id`'s account (see the module documentation);
/// `None` when it is locked.
async fn take_try(app: &App, conn: &mut PgConnection, user_id: Uuid) -> Result<Option<Try>, Error> {
    let config = app.config();
    let taken: Option<(i32, Option<DateTime<Utc>>)> = sqlx::query_as(
        "WITH counted AS (
             SELECT id, CASE WHEN locked_until <= $2 THEN 1 ELSE failed_logins + 1 END AS n
               FROM users WHERE id = $1 AND (locked_until IS NULL OR locked_until <= $2)
                FOR UPDATE
         )
         UPDATE users u
            SET failed_logins = c.n,
                locked_until = CASE WHEN c.n >= $3 THEN $2 + make_interval(secs => $4) END
           FROM counted c
          WHERE u.id = c.id
      RETURNING u.failed_logins, u.locked_until",
    )
    .bind(user_id)
    .bind(app.now())
    .bind(i32::try_from(config.lockout_threshold.max(1)).unwrap_or(i32::MAX))
    .bind(config.lockout_secs as f64)
    .fetch_optional(conn)
    .await?;
    Ok(taken.map(|(failed_logins, locks_until)| Try {
        failed_logins,
        locks_until,
    }))
}

/// The tenant, and the user with its hash, that a login names: one
/// transaction as the request role, which resolves the slug through
/// `olympus_tenant_by_slug` and then enters that tenant.
async fn look_up(app: &App, slug: &str, email: &str) -> Result<Lookup, Error> {
    // Every path runs the same statements, whether the tenant, the
    // user or the try exist: what does not exist is looked up as nothing
    // (a slug or address no row can have, the nil id), so an unknown tenant
    // costs what a known user costs.
    let mut tx = app.db().unscoped().await?;
    // A try's write must not make a known user's login wait for a WAL
    // flush that an unknown user's never waits for; a try lost in a crash
    // costs nothing.
    sqlx::query("SET LOCAL synchronous_commit TO off")
        .execute(&mut *tx)
        .await?;
    // A slug no tenant could have (say, with a NUL, which Postgres refuses
    // in text) is looked up as one that names no tenant.
    let slug = if could_be_slug(slug) { slug } else { "" };
    let tenant: Option<(Uuid, bool)> =
        sqlx::query_as("SELECT id, active FROM olympus_tenant_by_slug($1)")
            .bind(slug)
            .fetch_optional(&mut *tx)
            .await?;
    // An address that does not parse cannot belong to anyone.
    let email = Email::parse(email).ok();
    enter_tenant(&mut tx, tenant.map_or(Uuid::nil(), |(id, _)| id)).await?;
    let candidate: Option<Candidate> = sqlx::query_as(&format!(
        "SELECT {USER_COLUMNS}, password_hash FROM users WHERE email = $1"
    ))
    .bind(email.as_ref().map_or("", Email::as_str))
    .fetch_optional(&mut *tx)
    .await?;
    // Only an active tenant's user takes a try.
    let trying = candidate
        .as_ref()
        .filter(|_| tenant.is_some_and(|(_, active)| active))
        .map_or(Uuid::nil(), |c| c.user.id);
    let attempt = take_try(app, &mut tx, trying).await?;
    tx.commit().await?;
    Ok(Lookup {
        tenant,
        email,
        candidate,
        attempt,
    })
}

/// Whether `slug` has the characters and length a tenant's slug can have.
fn could_be_slug(slug: &str) -> bool {
    (1..=63).contains(&slug.len())
        && slug
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// A failed login in an existing tenant, to record after the reply.
struct Failure {
    tenant_id: Uuid,
    user_id: Option<Uuid>,
    email: Option<Email>,
    reason: LoginFailure,
    /// The try of a wrong password, which may have locked the account.
    locked: Option<Try>,
}

async fn record_failure(app: &App, meta: &Meta, failure: Failure) -> Result<(), Error> {
    let Failure {
        tenant_id,
        user_id,
        email,
        reason,
        locked,
    } = failure;
    let mut tx = app.db().tenant(tenant_id).await?;
    let events = app.events(meta);
    let aggregate = user_id.unwrap_or(tenant_id);
    events
        .emit(
            &mut tx,
            Event::new(
                tenant_id,
                aggregate,
                &data::UserLoginFailed {
                    user_id,
                    email: email.map(|e| e.as_str().to_owned()),
                    reason,
                    ip: meta.client_ip.clone(),
                },
            ),
        )
        .await?;
    if let (
        Some(user_id),
        Some(Try {
            failed_logins,
            locks_until: Some(locked_until),
        }),
    ) = (user_id, locked)
    {
        tracing::warn!(%user_id, failed_logins, %locked_until, "account locked after failed logins");
        events
            .emit(
                &mut tx,
                Event::new(
                    tenant_id,
                    user_id,
                    &data::UserLocked {
                        user_id,
                        failed_logins: u32::try_from(failed_logins).unwrap_or_default(),
                        locked_until,
                    },
                ),
            )
            .await?;
    }
    tx.commit().await?;
    Ok(())
}
