//! Invitations: a single-use token valid 7 days, stored only as a hash,
//! sent only on the mail subject (`invite` template). Issued by the tenant
//! worker's `members.invite`, redeemed by [`crate::accept_invite`].

use chrono::{DateTime, Duration, Utc};
use olympus_contracts::event::{data, MailTemplate};
use olympus_contracts::shapes::{Invitation, Role};
use olympus_contracts::ErrorCode;
use olympus_runtime::outbox::{Mailed, NewMail};
use olympus_runtime::{Error, Tx};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::opaque;

use crate::email::Email;

/// How long an invitation works.
pub const TOKEN_TTL_DAYS: i64 = 7;

/// The columns of [`InvitationRow`].
pub const INVITATION_COLUMNS: &str = "id, email, role, expires_at, created_at";

/// An `invitations` row as the contract shows it.
#[derive(Debug, sqlx::FromRow)]
pub struct InvitationRow {
    pub id: Uuid,
    pub email: String,
    pub role: String,
    pub expires_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
}

impl InvitationRow {
    /// The contract's invitation shape.
    pub fn into_invitation(self) -> Result<Invitation, Error> {
        let role = Role::parse(&self.role).ok_or_else(|| {
            Error::internal(anyhow::anyhow!(
                "invitation {} has role {:?}",
                self.id,
                self.role
            ))
        })?;
        Ok(Invitation {
            id: self.id,
            email: self.email,
            role,
            expires_at: self.expires_at,
            created_at: self.created_at,
        })
    }
}

/// Invites `email` into `tx`'s tenant with `role` (admin or member,
/// checked by the caller), by the caller: replaces a pending invitation to
/// the same address, mails the token and records `member.invited`. An
/// address that belongs to a member is `conflict` on `email`; one that had
/// its hourly limit of mails is `rate_limited`.
pub async fn issue(
    tx: &mut Tx<'_>,
    invited_by: Uuid,
    email: &Email,
    role: Role,
) -> Result<Invitation, Error> {
    let now = tx.now();
    let tenant_id = tx.tenant()?;
    let conn: &mut PgConnection = tx;
    // Invitations to one address take turns: the newest wins, none is lost.
    sqlx::query(
        "SELECT pg_advisory_xact_lock(hashtextextended('invite:' || $1::text || ':' || $2, 0))",
    )
    .bind(tenant_id)
    .bind(email.as_str())
    .execute(&mut *conn)
    .await?;
    let member: Option<Uuid> = sqlx::query_scalar("SELECT id FROM users WHERE email = $1")
        .bind(email.as_str())
        .fetch_optional(&mut *conn)
        .await?;
    if member.is_some() {
        return Err(Error::conflict("email").with_message("this address belongs to a member"));
    }
    sqlx::query(
        "UPDATE invitations SET revoked_at = $2
          WHERE email = $1 AND accepted_at IS NULL AND revoked_at IS NULL",
    )
    .bind(email.as_str())
    .bind(now)
    .execute(&mut *conn)
    .await?;
    let token = opaque::generate(tenant_id);
    let expires_at = now + Duration::days(TOKEN_TTL_DAYS);
    let row: InvitationRow = sqlx::query_as(&format!(
        "INSERT INTO invitations (id, tenant_id, email, role, token_hash, invited_by, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         RETURNING {INVITATION_COLUMNS}"
    ))
    .bind(Uuid::now_v7())
    .bind(tenant_id)
    .bind(email.as_str())
    .bind(role.as_str())
    .bind(&token.hash)
    .bind(invited_by)
    .bind(now)
    .bind(expires_at)
    .fetch_one(&mut *conn)
    .await?;
    let invitation = row.into_invitation()?;
    let mailed = tx
        .mail(NewMail {
            template: MailTemplate::Invite,
            to: email.as_str(),
            tenant_id,
            user_id: None,
            token: Some(&token.token),
            expires_at: Some(expires_at),
        })
        .await?;
    if let Mailed::Limited { retry_after_secs } = mailed {
        return Err(Error::new(ErrorCode::RateLimited)
            .with_message("this address had its mails for the hour; retry later")
            .with_detail("retry_after_secs", retry_after_secs));
    }
    let invited = data::MemberInvited {
        invitation_id: invitation.id,
        email: Some(invitation.email.clone()),
        role,
        expires_at,
    };
    tx.emit(invitation.id, &invited).await?;
    Ok(invitation)
}

/// Redeems the invitation of a token's hash, in the connection's tenant
/// scope: its address and role, once; `None` when it is unknown, used,
/// replaced, revoked or expired.
pub async fn redeem(
    conn: &mut PgConnection,
    token_hash: &[u8],
    now: DateTime<Utc>,
) -> Result<Option<(String, Role)>, Error> {
    let row: Option<(String, String)> = sqlx::query_as(
        "UPDATE invitations SET accepted_at = $2
          WHERE token_hash = $1 AND accepted_at IS NULL AND revoked_at IS NULL AND expires_at > $2
      RETURNING email, role",
    )
    .bind(token_hash)
    .bind(now)
    .fetch_optional(conn)
    .await?;
    row.map(|(email, role)| {
        let role = Role::parse(&role)
            .ok_or_else(|| Error::internal(anyhow::anyhow!("invitation has role {role:?}")))?;
        Ok((email, role))
    })
    .transpose()
}
