//! The login's challenge (contract §5, revision 3): after the right
//! password, a user with TOTP gets an opaque `mfa_token` instead of a
//! session ([`issue`]); `auth.login_mfa` redeems it with a code
//! ([`crate::login_mfa`]). The token is stored only as a hash; it lives
//! [`TTL_SECS`], works once, and dies after [`WRONG_CODES`] wrong codes.

use chrono::TimeDelta;
use olympus_contracts::auth::MfaChallenge;
use olympus_contracts::Secret;
use olympus_runtime::{Ctx, Error};
use uuid::Uuid;

use crate::{lockout, opaque};

/// How long a challenge lives.
pub const TTL_SECS: i64 = 300;
/// Wrong codes after which a challenge is dead.
pub const WRONG_CODES: i32 = 5;

/// A challenge for `user_id` of `tenant_id`, whose right password took a
/// try at the account: the try is given back, not the count cleared (only
/// a right code clears it, see [`crate::lockout`]). One transaction apart
/// from the request.
pub async fn issue(ctx: &Ctx, tenant_id: Uuid, user_id: Uuid) -> Result<MfaChallenge, Error> {
    let token = opaque::generate(tenant_id);
    let now = ctx.now();
    ctx.apart(Some(tenant_id), async |tx| {
        lockout::give_back(tx, user_id).await?;
        sqlx::query(
            "INSERT INTO mfa_challenges (id, tenant_id, user_id, token_hash, created_at, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(Uuid::now_v7())
        .bind(tenant_id)
        .bind(user_id)
        .bind(&token.hash)
        .bind(now)
        .bind(now + TimeDelta::seconds(TTL_SECS))
        .execute(&mut **tx)
        .await?;
        Ok(())
    })
    .await?;
    tracing::info!(%user_id, "password right; the login waits for a second factor");
    Ok(MfaChallenge {
        mfa_required: true,
        mfa_token: Secret::new(token.token),
        methods: super::METHODS.iter().map(|m| (*m).to_owned()).collect(),
        expires_in: TTL_SECS as u64,
    })
}
