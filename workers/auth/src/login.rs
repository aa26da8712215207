//! `auth.login`: a password for a session.
//!
//! Every failure (unknown tenant, unknown email, wrong password, suspended
//! tenant) is the same `invalid_credentials` reply and costs the same: when
//! there is no user, the password is verified against a dummy hash. The
//! look-up transaction ends before hashing, so a connection is never held
//! while Argon2 runs. A failure in a tenant that exists is recorded as
//! `user.login_failed` (with the reason, for the tenant's eyes only) after
//! the reply.

use olympus_contracts::auth::{LoginRequest, SessionReply};
use olympus_contracts::event::data::{self, LoginFailure};
use olympus_contracts::ErrorCode;
use olympus_runtime::db::enter_tenant;
use olympus_runtime::outbox::Event;
use olympus_runtime::{App, Call, Error, Meta};
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

/// What a login's tenant and email name, as far as they exist.
struct Lookup {
    tenant: Option<(Uuid, bool)>,
    email: Option<Email>,
    candidate: Option<Candidate>,
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
    let stored = lookup.candidate.as_ref().map(|c| c.password_hash.as_str());
    let matches = slot.verify(&password, stored).await?;
    let tenant_active = lookup.tenant.is_some_and(|(_, active)| active);
    let user = match lookup.candidate {
        Some(candidate) if matches && tenant_active => candidate.user,
        candidate => {
            let reason = match (&candidate, tenant_active) {
                (None, _) => LoginFailure::UnknownUser,
                (Some(_), false) => LoginFailure::TenantSuspended,
                (Some(_), true) => LoginFailure::WrongPassword,
            };
            if let Some((tenant_id, _)) = lookup.tenant {
                // After the reply, so that no failure takes longer than
                // another, and a failing write cannot change the reply.
                let user_id = candidate.as_ref().map(|c| c.user.id);
                let (app, meta) = (app.clone(), call.meta.clone());
                app.clone().spawn_after_reply(async move {
                    let email = lookup.email;
                    if let Err(err) =
                        record_failure(&app, &meta, tenant_id, user_id, email, reason).await
                    {
                        tracing::error!(error = %err, "recording user.login_failed");
                    }
                });
            }
            return Err(Error::new(ErrorCode::InvalidCredentials));
        }
    };

    let mut tx = app.db().tenant(user.tenant_id).await?;
    let user: UserRow = sqlx::query_as(&format!(
        "UPDATE users SET last_login_at = $2 WHERE id = $1 RETURNING {USER_COLUMNS}"
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

/// The tenant, and the user with its hash, that a login names: one
/// transaction as the request role, which resolves the slug through
/// `olympus_tenant_by_slug` and then enters that tenant.
async fn look_up(app: &App, slug: &str, email: &str) -> Result<Lookup, Error> {
    let mut tx = app.db().unscoped().await?;
    // A slug no tenant could have (say, with a NUL, which Postgres refuses
    // in text) names no tenant; it is not worth a query.
    let tenant: Option<(Uuid, bool)> = if could_be_slug(slug) {
        sqlx::query_as("SELECT id, active FROM olympus_tenant_by_slug($1)")
            .bind(slug)
            .fetch_optional(&mut *tx)
            .await?
    } else {
        None
    };
    // An address that does not parse cannot belong to anyone.
    let email = Email::parse(email).ok();
    let candidate = match (tenant, &email) {
        (Some((tenant_id, _)), Some(email)) => {
            enter_tenant(&mut tx, tenant_id).await?;
            sqlx::query_as(&format!(
                "SELECT {USER_COLUMNS}, password_hash FROM users WHERE email = $1"
            ))
            .bind(email.as_str())
            .fetch_optional(&mut *tx)
            .await?
        }
        _ => None,
    };
    tx.commit().await?;
    Ok(Lookup {
        tenant,
        email,
        candidate,
    })
}

/// Whether `slug` has the characters and length a tenant's slug can have.
fn could_be_slug(slug: &str) -> bool {
    (1..=63).contains(&slug.len())
        && slug
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

async fn record_failure(
    app: &App,
    meta: &Meta,
    tenant_id: Uuid,
    user_id: Option<Uuid>,
    email: Option<Email>,
    reason: LoginFailure,
) -> Result<(), Error> {
    let mut tx = app.db().tenant(tenant_id).await?;
    app.events(meta)
        .emit(
            &mut tx,
            Event::new(
                tenant_id,
                user_id.unwrap_or(tenant_id),
                &data::UserLoginFailed {
                    user_id,
                    email: email.map(|e| e.as_str().to_owned()),
                    reason,
                    ip: meta.client_ip.clone(),
                },
            ),
        )
        .await?;
    tx.commit().await?;
    Ok(())
}
