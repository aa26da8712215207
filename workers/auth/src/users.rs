//! The `users` table: rows, inserts and look-ups, always in tenant scope.

use chrono::{DateTime, Utc};
use olympus_contracts::shapes::{Role, User};
use olympus_runtime::error::is_unique_violation;
use olympus_runtime::Error;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::email::Email;

/// The columns of [`UserRow`], for `SELECT` and `RETURNING`.
pub const USER_COLUMNS: &str =
    "id, tenant_id, email, display_name, phone, role, email_verified, mfa_enabled, created_at, updated_at, last_login_at";

/// A `users` row as the contract shows it (no password hash).
#[derive(Debug, sqlx::FromRow)]
pub struct UserRow {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub email: String,
    pub display_name: String,
    pub phone: Option<String>,
    pub role: String,
    pub email_verified: bool,
    pub mfa_enabled: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub last_login_at: Option<DateTime<Utc>>,
}

impl UserRow {
    /// The contract's user shape.
    pub fn into_user(self) -> Result<User, Error> {
        let role = Role::parse(&self.role).ok_or_else(|| {
            Error::internal(anyhow::anyhow!(
                "user {} has unknown role {:?}",
                self.id,
                self.role
            ))
        })?;
        Ok(User {
            id: self.id,
            tenant_id: self.tenant_id,
            email: self.email,
            display_name: self.display_name,
            phone: self.phone,
            role,
            email_verified: self.email_verified,
            mfa_enabled: self.mfa_enabled,
            created_at: self.created_at,
            updated_at: self.updated_at,
            last_login_at: self.last_login_at,
        })
    }
}

/// A user about to be created.
#[derive(Debug)]
pub struct NewUser<'a> {
    /// A fresh UUIDv7, chosen by the caller (events may name the user
    /// before the row exists).
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub email: &'a Email,
    pub display_name: &'a str,
    pub role: Role,
    pub password_hash: &'a str,
    /// True when the address was proven already (an accepted invitation
    /// came to it): then no verification mail goes out.
    pub email_verified: bool,
}

/// Inserts a user; a taken email is `conflict` on `email`. The connection
/// must be in the user's tenant scope.
pub async fn insert(conn: &mut PgConnection, new: NewUser<'_>) -> Result<User, Error> {
    let row: UserRow = sqlx::query_as(&format!(
        "INSERT INTO users (id, tenant_id, email, display_name, role, password_hash, email_verified)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         RETURNING {USER_COLUMNS}"
    ))
    .bind(new.id)
    .bind(new.tenant_id)
    .bind(new.email.as_str())
    .bind(new.display_name)
    .bind(new.role.as_str())
    .bind(new.password_hash)
    .bind(new.email_verified)
    .fetch_one(conn)
    .await
    .map_err(|e| {
        if is_unique_violation(&e, "users_tenant_email_key") {
            Error::conflict("email")
        } else {
            Error::from(e)
        }
    })?;
    row.into_user()
}

/// A user by id, in the connection's tenant scope.
pub async fn find(conn: &mut PgConnection, id: Uuid) -> Result<Option<User>, Error> {
    let row: Option<UserRow> =
        sqlx::query_as(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"))
            .bind(id)
            .fetch_optional(conn)
            .await?;
    row.map(UserRow::into_user).transpose()
}
