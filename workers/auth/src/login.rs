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
//! **Lockout** ([`crate::lockout`], shared with every operation that asks
//! for a password). The look-up takes the login's *try* first: one atomic
//! `UPDATE` counts it among the account's consecutive failures, before the
//! password is compared; a success sets the count back to 0. Once the
//! count reaches `OLYMPUS_LOCKOUT_THRESHOLD`, no try is given: a login
//! waits (polling briefly) while the tries in flight end, and when the
//! last of them failed, recording that failure locks the account for
//! `OLYMPUS_LOCKOUT_SECS`. So parallel guesses cannot outrun the limit (at
//! most that many passwords are compared before the lock), the user's own
//! parallel logins only wait, and a locked account refuses even the right
//! password until the lock ends (or a password reset lifts it).
//!
//! **A second factor** (revision 3): a user with TOTP whose password is
//! right gets no session but a challenge ([`crate::mfa::challenge`]), which
//! `auth.login_mfa` redeems with a code. The right password gives its try
//! back rather than clearing the count. A wrong password is the same for
//! them as for anyone: same reply, same statements, same time.
//!
//! A login whose password matched a hash made with other Argon2
//! parameters than the configured ones (`OLYMPUS_ARGON2_PARAMS`) stores a
//! new hash after the reply (`Passwords::is_outdated`), unless the password
//! changed meanwhile. Until then that account's verify costs what its
//! parameters cost, not what the dummy's do: "the same time" holds for
//! accounts hashed with the configured parameters.

use olympus_contracts::auth::{LoginReply, LoginRequest, SessionReply};
use olympus_contracts::event::data::{self, LoginFailure};
use olympus_contracts::ErrorCode;
use olympus_runtime::outbox::Event;
use olympus_runtime::{Ctx, Error};
use uuid::Uuid;

use crate::address_limit;
use crate::email::Email;
use crate::lockout::{self, Try, BUSY_POLL, BUSY_WAIT};
use crate::sessions;

/// The user a login's address names in its tenant.
struct Candidate {
    user_id: Uuid,
    password_hash: String,
    /// Whether a code must follow the password.
    mfa_enabled: bool,
}

/// What a login's tenant and email name, as far as they exist.
struct Lookup {
    tenant: Option<(Uuid, bool)>,
    email: Option<Email>,
    candidate: Option<Candidate>,
    /// `None` for a candidate: the account is locked, or its tries stayed in
    /// flight for as long as a login waits.
    attempt: Option<Try>,
}

/// Handles `auth.login`.
pub async fn login(ctx: Ctx, request: LoginRequest) -> Result<LoginReply, Error> {
    let LoginRequest {
        tenant,
        email,
        password,
    } = request;
    // First, so that a login shed for a full hashing queue costs nothing.
    let passwords = crate::hashing::passwords(ctx.app())?;
    let slot = passwords.admit(ctx.party())?;
    let address_try = address_limit::take(&ctx, ctx.request().client_ip.as_deref()).await?;
    let lookup = look_up(&ctx, &tenant, &email).await?;
    // A locked account's hash is not compared: the dummy costs the same.
    let stored = lookup
        .candidate
        .as_ref()
        .filter(|_| lookup.attempt.is_some())
        .map(|c| c.password_hash.as_str());
    let matches = slot.verify(&password, stored).await?;
    let outdated = stored
        .filter(|stored| matches && passwords.is_outdated(stored))
        .map(str::to_owned);
    let tenant_active = lookup.tenant.is_some_and(|(_, active)| active);
    let (user_id, tenant_id, mfa_enabled) = match (lookup.candidate, lookup.tenant) {
        (Some(candidate), Some((tenant_id, _))) if matches && tenant_active => {
            (candidate.user_id, tenant_id, candidate.mfa_enabled)
        }
        (candidate, _) => {
            let reason = match (&candidate, tenant_active, lookup.attempt) {
                (None, _, _) => LoginFailure::UnknownUser,
                (Some(_), false, _) => LoginFailure::TenantSuspended,
                (Some(_), true, None) => LoginFailure::Locked,
                (Some(_), true, Some(_)) => LoginFailure::WrongPassword,
            };
            // The address's try stays counted: it failed.
            if let Some((tenant_id, _)) = lookup.tenant {
                // After the reply, so that no failure takes longer than
                // another, and a failing write cannot change the reply.
                let failure = Failure {
                    tenant_id,
                    user_id: candidate.as_ref().map(|c| c.user_id),
                    email: lookup.email,
                    reason,
                    locked: lookup
                        .attempt
                        .filter(|_| reason == LoginFailure::WrongPassword),
                };
                let after = ctx.clone();
                ctx.after_reply(async move {
                    if let Err(err) = record_failure(&after, failure).await {
                        tracing::error!(error = %err, "recording user.login_failed");
                    }
                });
            }
            return Err(Error::new(ErrorCode::InvalidCredentials));
        }
    };

    if let Some(address_try) = address_try {
        let after = ctx.clone();
        ctx.after_reply(async move {
            if let Err(err) = address_try.release(&after).await {
                tracing::warn!(error = %err, "giving a successful login's try back to its address");
            }
        });
    }
    if let Some(outdated) = outdated {
        let after = ctx.clone();
        ctx.after_reply(async move {
            if let Err(err) = rehash(&after, tenant_id, user_id, &password, &outdated).await {
                tracing::warn!(error = %err, %user_id, "storing the password hash anew");
            }
        });
    }
    if mfa_enabled {
        let challenge = crate::mfa::challenge::issue(&ctx, tenant_id, user_id).await?;
        return Ok(LoginReply::MfaRequired(challenge));
    }
    // The session, the user's cleared failures and `user.logged_in`: one
    // call, committed with it.
    let session_id = Uuid::now_v7();
    let logged_in = ctx.events().actor(user_id).prepare(Event::new(
        tenant_id,
        user_id,
        &data::UserLoggedIn {
            user_id,
            session_id,
            ip: ctx.request().client_ip.clone(),
            user_agent: ctx.request().user_agent.clone(),
        },
    ))?;
    let opened =
        sessions::open_at_login(&ctx, (tenant_id, user_id, session_id), &logged_in).await?;
    // Removed since its look-up, or turned TOTP on meanwhile: no session,
    // and the right password's try given back (the next login asks for a
    // code).
    let Some((user, tokens)) = opened else {
        ctx.apart(Some(tenant_id), async |tx| {
            lockout::give_back(tx, user_id).await
        })
        .await?;
        return Err(Error::new(ErrorCode::InvalidCredentials));
    };
    tracing::info!(user_id = %user.id, tenant_id = %user.tenant_id, "logged in");
    Ok(LoginReply::Session(SessionReply { user, tokens }))
}

/// Stores a hash of `password` made as hashes are made now, in place of
/// `outdated`, after a login verified it (unless the password changed
/// meanwhile, or the hashing queue is full: then the next login tries).
async fn rehash(
    ctx: &Ctx,
    tenant_id: Uuid,
    user_id: Uuid,
    password: &olympus_contracts::Secret,
    outdated: &str,
) -> Result<(), Error> {
    let Ok(slot) = crate::hashing::passwords(ctx.app())?.admit(ctx.party()) else {
        return Ok(());
    };
    let hash = slot.hash(password).await?;
    let stored = ctx
        .apart(Some(tenant_id), async |tx| {
            Ok(sqlx::query(
                "UPDATE users SET password_hash = $3 WHERE id = $1 AND password_hash = $2",
            )
            .bind(user_id)
            .bind(outdated)
            .bind(&hash)
            .execute(&mut **tx)
            .await?
            .rows_affected())
        })
        .await?;
    tracing::debug!(%user_id, stored = stored == 1, "password hash made anew at the current parameters");
    Ok(())
}

/// The tenant, and the user with its hash, that a login names, with the
/// login's try; looked up again while the account's tries are all in flight.
async fn look_up(ctx: &Ctx, slug: &str, email: &str) -> Result<Lookup, Error> {
    let deadline = tokio::time::Instant::now() + BUSY_WAIT;
    loop {
        let (lookup, busy) = look_up_once(ctx, slug, email).await?;
        if !busy {
            return Ok(lookup);
        }
        if tokio::time::Instant::now() >= deadline {
            // Tries that never ended (a process died mid-login) must not
            // hold the account forever: it locks, and unlocks in time.
            if let (Some((tenant_id, _)), Some(candidate)) = (lookup.tenant, &lookup.candidate) {
                let user_id = candidate.user_id;
                ctx.apart(Some(tenant_id), async |tx| {
                    lockout::lock(ctx.app(), tx, user_id).await.map(|_| ())
                })
                .await?;
            }
            return Ok(lookup);
        }
        tokio::time::sleep(BUSY_POLL).await;
    }
}

/// One look-up; `true` when the account's tries are all in flight.
///
/// One statement, `olympus_login_look_up` (migration 0018): the slug, the
/// user and the try, committed with it. Every path runs the same
/// statements, whether the tenant, the user or the try exist: what does
/// not exist is looked up as nothing (a slug or address no row can have,
/// the nil id), so an unknown tenant costs what a known user costs.
///
/// An address given in another spelling than its normal form is first
/// looked up as it was stored before contract revision 3 (an account kept
/// in that spelling because its normal form was taken, see
/// [`crate::email`]), then, if no one has it, in the normal form: two
/// statements for such an address, whether or not anyone has it.
async fn look_up_once(ctx: &Ctx, slug: &str, raw_email: &str) -> Result<(Lookup, bool), Error> {
    // A slug no tenant could have (say, with a NUL, which Postgres refuses
    // in text) is looked up as one that names no tenant.
    let slug = if could_be_slug(slug) { slug } else { "" };
    // An address that does not parse cannot belong to anyone.
    let email = Email::parse(raw_email).ok();
    let earlier = email
        .as_ref()
        .and_then(|e| e.stored_before_revision_3(raw_email));
    let spellings = earlier
        .iter()
        .map(String::as_str)
        .chain(std::iter::once(email.as_ref().map_or("", Email::as_str)));
    let threshold = lockout::threshold(ctx.app());
    let mut found = None;
    for spelling in spellings {
        // Outside any transaction: the call scopes and commits its own
        // (inside another, it would re-scope it and turn its
        // synchronous_commit off).
        let row: LookedUp = ctx
            .autocommit(|pool| {
                sqlx::query_as("SELECT * FROM olympus_login_look_up($1, $2, $3, $4)")
                    .bind(slug)
                    .bind(spelling)
                    .bind(ctx.now())
                    .bind(threshold)
                    .fetch_one(pool)
            })
            .await?;
        let someone = row.user_id.is_some();
        found = Some(row);
        if someone {
            break;
        }
    }
    let Some(row) = found else {
        return Err(Error::internal(anyhow::anyhow!(
            "a login looked up no spelling"
        )));
    };
    let tenant = row.tenant_id.zip(row.tenant_active);
    let candidate = row
        .user_id
        .zip(row.password_hash)
        .map(|(user_id, password_hash)| Candidate {
            user_id,
            password_hash,
            mfa_enabled: row.mfa_enabled.unwrap_or(false),
        });
    // A try is granted; or refused: the account is locked (or there is no
    // such user); or the tries in flight use up the budget: wait for them.
    let (attempt, busy) = match (row.granted, row.locked) {
        (Some(failed_logins), _) => (Some(Try { failed_logins }), false),
        (None, Some(false)) => (None, true),
        (None, _) => (None, false),
    };
    Ok((
        Lookup {
            tenant,
            email,
            candidate,
            attempt,
        },
        busy,
    ))
}

/// The row of `olympus_login_look_up`.
#[derive(sqlx::FromRow)]
struct LookedUp {
    tenant_id: Option<Uuid>,
    tenant_active: Option<bool>,
    user_id: Option<Uuid>,
    password_hash: Option<String>,
    granted: Option<i32>,
    locked: Option<bool>,
    mfa_enabled: Option<bool>,
}

/// Whether `slug` has the characters and length a tenant's slug can have.
pub(crate) fn could_be_slug(slug: &str) -> bool {
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

/// Whether a failure of `reason` is of an address no account has (its
/// email is kept; a failure of an account that is gone keeps none).
fn failure_names_no_user(reason: LoginFailure) -> bool {
    reason == LoginFailure::UnknownUser
}

/// After the reply, apart from the request (which failed): the failure's
/// event, and the lock when its try reached the threshold.
async fn record_failure(ctx: &Ctx, failure: Failure) -> Result<(), Error> {
    let Failure {
        tenant_id,
        user_id,
        email,
        reason,
        locked,
    } = failure;
    ctx.apart(Some(tenant_id), async |tx| {
        // The user may have deleted their account since the look-up: then
        // the failure names no one (`auth.delete_me` erases what names
        // them, and this would come after it). Held until this commits, so
        // a deletion in progress waits for it, and erases it.
        let user_id = match user_id {
            Some(id) => {
                sqlx::query_scalar("SELECT id FROM users WHERE id = $1 FOR KEY SHARE")
                    .bind(id)
                    .fetch_optional(&mut **tx)
                    .await?
            }
            None => None,
        };
        let failed = data::UserLoginFailed {
            user_id,
            email: email
                .filter(|_| user_id.is_some() || failure_names_no_user(reason))
                .map(|e| e.as_str().to_owned()),
            reason,
            ip: ctx.request().client_ip.clone(),
        };
        tx.emit(user_id.unwrap_or(tenant_id), &failed).await?;
        if let (Some(user_id), Some(attempt)) = (user_id, locked) {
            lockout::failed(ctx.app(), tx, user_id, attempt).await?;
        }
        Ok(())
    })
    .await
}
