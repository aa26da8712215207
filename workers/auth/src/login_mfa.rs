//! `auth.login_mfa`: the second step of a login for a user with TOTP: the
//! challenge's `mfa_token` and a TOTP or recovery code for a session whose
//! tokens carry `amr: ["pwd", "otp"]`.
//!
//! Every failure is the same `invalid_credentials`: a wrong code, an
//! unknown, used, expired or dead token, a locked account, a suspended
//! tenant. A wrong code counts toward the challenge's limit and the
//! account's lockout (checked one at a time per account, see
//! [`crate::mfa::factor`]), and toward the failed logins of the client's
//! address; it is recorded as `user.login_failed` (`wrong_code`). Only a
//! right code clears the account's count. The challenge, the spent code,
//! the session and `user.logged_in` commit together.

use olympus_contracts::auth::{LoginMfaRequest, SessionReply};
use olympus_contracts::event::data::{self, LoginFailure};
use olympus_contracts::ErrorCode;
use olympus_runtime::tokens::{AMR_OTP, AMR_PASSWORD};
use olympus_runtime::{Ctx, Error};
use uuid::Uuid;

use crate::address_limit;
use crate::keys::Kek;
use crate::mfa::challenge::WRONG_CODES;
use crate::mfa::factor::{self, Checked, Factor};
use crate::opaque;
use crate::sessions::{self, Login};
use crate::users::{UserRow, USER_COLUMNS};

/// A challenge as redeeming it reads it.
#[derive(sqlx::FromRow)]
struct Challenge {
    id: Uuid,
    user_id: Uuid,
    live: bool,
    tenant_active: bool,
}

/// Handles `auth.login_mfa`.
pub async fn login_mfa(ctx: Ctx, request: LoginMfaRequest) -> Result<SessionReply, Error> {
    let factor = Factor::one_of(request.code.as_ref(), request.recovery_code.as_ref())?;
    let kek = Kek::of(ctx.app()).map_err(Error::internal)?;
    let address_try = address_limit::take(&ctx, ctx.request().client_ip.as_deref()).await?;
    let invalid = || Error::new(ErrorCode::InvalidCredentials);
    let Some((tenant_id, hash)) = opaque::parse(request.mfa_token.expose()) else {
        return Err(invalid());
    };
    let outcome = ctx
        .apart(Some(tenant_id), async |tx| {
            let now = tx.now();
            let challenge: Option<Challenge> = sqlx::query_as(
                "SELECT c.id, c.user_id,
                        c.used_at IS NULL AND c.expires_at > $2 AND c.wrong_codes < $3 AS live,
                        t.status = 'active' AS tenant_active
                   FROM mfa_challenges c JOIN tenants t ON t.id = c.tenant_id
                  WHERE c.token_hash = $1 FOR UPDATE OF c",
            )
            .bind(&hash)
            .bind(now)
            .bind(WRONG_CODES)
            .fetch_optional(&mut **tx)
            .await?;
            let Some(challenge) = challenge.filter(|c| c.live) else {
                return Ok(Err(None));
            };
            let user_id = challenge.user_id;
            tx.act_as(user_id);
            let reason = if challenge.tenant_active {
                match factor::check(ctx.app(), &kek, tx, user_id, factor).await? {
                    Checked::Right => {
                        let opened = open(&ctx, tx, challenge.id, user_id).await?;
                        return Ok(Ok(opened));
                    }
                    Checked::Wrong => {
                        sqlx::query(
                            "UPDATE mfa_challenges SET wrong_codes = wrong_codes + 1 WHERE id = $1",
                        )
                        .bind(challenge.id)
                        .execute(&mut **tx)
                        .await?;
                        LoginFailure::WrongCode
                    }
                    Checked::Refused => LoginFailure::Locked,
                }
            } else {
                LoginFailure::TenantSuspended
            };
            let failed = data::UserLoginFailed {
                user_id: Some(user_id),
                email: None,
                reason,
                ip: ctx.request().client_ip.clone(),
            };
            tx.emit(user_id, &failed).await?;
            Ok(Err(Some(reason)))
        })
        .await?;
    match outcome {
        Ok(reply) => {
            tracing::info!(user_id = %reply.user.id, tenant_id = %reply.user.tenant_id, "logged in with a second factor");
            if let Some(address_try) = address_try {
                if let Err(err) = address_try.release(&ctx).await {
                    tracing::warn!(error = %err, "giving a successful login's try back to its address");
                }
            }
            Ok(reply)
        }
        Err(reason) => {
            tracing::info!(?reason, "a second factor was refused");
            Err(invalid())
        }
    }
}

/// The session of a challenge redeemed with a right code, in `tx`: the
/// challenge spent, the login recorded, `user.logged_in`.
async fn open(
    ctx: &Ctx,
    tx: &mut olympus_runtime::Tx<'_>,
    challenge_id: Uuid,
    user_id: Uuid,
) -> Result<SessionReply, Error> {
    let now = tx.now();
    sqlx::query("UPDATE mfa_challenges SET used_at = $2 WHERE id = $1")
        .bind(challenge_id)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    let row: UserRow = sqlx::query_as(&format!(
        "UPDATE users SET last_login_at = $2 WHERE id = $1 RETURNING {USER_COLUMNS}"
    ))
    .bind(user_id)
    .bind(now)
    .fetch_one(&mut **tx)
    .await?;
    let user = row.into_user()?;
    let login = Login {
        amr: vec![AMR_PASSWORD.to_owned(), AMR_OTP.to_owned()],
        at: now,
    };
    let (tokens, session_id) = sessions::open(ctx, tx, &user, Some(login)).await?;
    let logged_in = data::UserLoggedIn {
        user_id,
        session_id,
        ip: ctx.request().client_ip.clone(),
        user_agent: ctx.request().user_agent.clone(),
    };
    tx.emit(user_id, &logged_in).await?;
    Ok(SessionReply { user, tokens })
}
