//! `auth.login`: a password for a session.
//!
//! Every failure (unknown tenant, unknown email, wrong password, suspended
//! tenant) is the same `invalid_credentials` reply and costs the same: when
//! there is no user, the password is verified against a dummy hash. The
//! look-up transaction ends before hashing, so a connection is never held
//! while Argon2 runs.

use olympus_contracts::auth::{LoginRequest, SessionReply};
use olympus_contracts::ErrorCode;
use olympus_runtime::db::enter_tenant;
use olympus_runtime::{App, Call, Error};
use uuid::Uuid;

use crate::email::Email;
use crate::sessions;
use crate::users::{UserRow, USER_COLUMNS};

#[derive(sqlx::FromRow)]
struct Candidate {
    #[sqlx(flatten)]
    user: UserRow,
    password_hash: String,
    tenant_active: bool,
}

/// Handles `auth.login`.
pub async fn login(app: App, call: Call<LoginRequest>) -> Result<SessionReply, Error> {
    let LoginRequest {
        tenant,
        email,
        password,
    } = call.body;
    let candidate = find_candidate(&app, &tenant, &email).await?;
    let stored = candidate.as_ref().map(|c| c.password_hash.as_str());
    let matches = app.passwords().verify(&password, stored).await?;
    let user = match candidate {
        Some(c) if matches && c.tenant_active => c.user,
        _ => return Err(Error::new(ErrorCode::InvalidCredentials)),
    };

    let mut tx = app.db().tenant(user.tenant_id).await?;
    let user: UserRow = sqlx::query_as(&format!(
        "UPDATE users SET last_login_at = now() WHERE id = $1 RETURNING {USER_COLUMNS}"
    ))
    .bind(user.id)
    .fetch_one(&mut *tx)
    .await?;
    let user = user.into_user()?;
    let tokens = sessions::open(&app, &mut tx, &user, &call.meta).await?;
    tx.commit().await?;
    tracing::info!(user_id = %user.id, tenant_id = %user.tenant_id, "logged in");
    Ok(SessionReply { user, tokens })
}

/// The user a login names, with its hash, if tenant and email exist.
async fn find_candidate(app: &App, slug: &str, email: &str) -> Result<Option<Candidate>, Error> {
    // An address that does not parse cannot belong to anyone.
    let Ok(email) = Email::parse(email) else {
        return Ok(None);
    };
    let mut tx = app.db().begin().await?;
    let tenant: Option<(Uuid, bool)> =
        sqlx::query_as("SELECT id, status = 'active' FROM tenants WHERE slug = $1")
            .bind(slug)
            .fetch_optional(&mut *tx)
            .await?;
    let Some((tenant_id, tenant_active)) = tenant else {
        return Ok(None);
    };
    enter_tenant(&mut tx, tenant_id).await?;
    let candidate: Option<Candidate> = sqlx::query_as(&format!(
        "SELECT {USER_COLUMNS}, password_hash, $2::bool AS tenant_active FROM users WHERE email = $1"
    ))
    .bind(email.as_str())
    .bind(tenant_active)
    .fetch_optional(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(candidate)
}
