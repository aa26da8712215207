//! `olympus admin bootstrap`: the first platform administrator. An
//! operator's command, not a request: it works on the database itself.
//!
//! Platform administrators are the owners and admins of the reserved tenant
//! `platform`, which no signup can take. This creates that tenant when it
//! does not exist yet, and an owner of it with the given address and
//! password (read by the command from standard input, never from argv),
//! email verified. `tenant.created` and `user.registered` are recorded as
//! for any signup. An address that is already a platform member is an
//! error: this never changes an existing account.

use anyhow::Context;
use olympus_auth::email::Email;
use olympus_auth::hashing::{Argon2Params, Passwords};
use olympus_auth::password::NewPassword;
use olympus_auth::users::{self, NewUser};
use olympus_contracts::event::data;
use olympus_contracts::shapes::{Role, User};
use olympus_contracts::{ErrorCode, Secret, Subjects};
use olympus_runtime::clock::SystemClock;
use olympus_runtime::outbox::{Event, Events};
use olympus_runtime::Db;
use uuid::Uuid;

use olympus_tenant::slug::RESERVED;
use olympus_tenant::tenants::{TenantRow, TENANT_COLUMNS};

/// The slug of the platform administrators' tenant.
pub const PLATFORM: &str = RESERVED[0];

/// What bootstrap did.
#[derive(Debug)]
pub struct Bootstrapped {
    pub tenant_id: Uuid,
    /// Whether the platform tenant was created by this run.
    pub created_tenant: bool,
    pub admin: User,
}

/// Creates the platform tenant if needed and an owner of it, whose
/// password is hashed with `params`.
pub async fn run(
    db: &Db,
    subjects: &Subjects,
    email: &str,
    password: &Secret,
    params: Argon2Params,
) -> anyhow::Result<Bootstrapped> {
    let email = Email::parse(email)
        .map_err(|problems| anyhow::anyhow!("--email {}", problems.join("; ")))?;
    let password = NewPassword::parse(password, Some(&email))
        .map_err(|problems| anyhow::anyhow!("the password {}", problems.join("; ")))?;
    let passwords = Passwords::new(1, 1, params)?;
    let slot = passwords
        .admit(olympus_runtime::fairness::Party::Anonymous)
        .map_err(|_| anyhow::anyhow!("the password hasher is busy"))?;
    let password_hash = slot.hash(password.secret()).await?;

    let clock = SystemClock;
    let correlation_id = format!("bootstrap-{}", Uuid::now_v7());
    let events = Events::operator(subjects, &clock, &correlation_id);

    let mut tx = db.unscoped().await?;
    let existing: Option<Uuid> = sqlx::query_scalar("SELECT id FROM olympus_tenant_by_slug($1)")
        .bind(PLATFORM)
        .fetch_optional(&mut *tx)
        .await?;
    #[expect(
        clippy::disallowed_methods,
        reason = "an operator command, not a request"
    )]
    tx.commit().await?;
    let (tenant_id, created_tenant) = match existing {
        Some(id) => (id, false),
        None => (Uuid::now_v7(), true),
    };
    let mut tx = db.tenant(tenant_id).await?;
    if created_tenant {
        let tenant: TenantRow = sqlx::query_as(&format!(
            "INSERT INTO tenants (id, slug, name, self_registration) VALUES ($1, $2, $3, false)
             RETURNING {TENANT_COLUMNS}"
        ))
        .bind(tenant_id)
        .bind(PLATFORM)
        .bind("Platform administrators")
        .fetch_one(&mut *tx)
        .await
        .context("creating the platform tenant (did another bootstrap run at the same time?)")?;
        let tenant = tenant
            .into_tenant()
            .map_err(|e| failed("reading the platform tenant", e))?;
        events
            .emit(
                &mut tx,
                Event::new(tenant.id, tenant.id, &data::TenantCreated { tenant }),
            )
            .await
            .map_err(|e| failed("recording tenant.created", e))?;
    }
    let admin = users::insert(
        &mut tx,
        NewUser {
            id: Uuid::now_v7(),
            tenant_id,
            email: &email,
            display_name: email.local_part(),
            role: Role::Owner,
            password_hash: &password_hash,
            email_verified: true,
        },
    )
    .await
    .map_err(|e| match e.code() {
        ErrorCode::Conflict => anyhow::anyhow!(
            "{email} is already a platform administrator: bootstrap never changes an existing \
             account (log in with it, or reset its password)"
        ),
        _ => failed("creating the administrator", e),
    })?;
    events
        .emit(
            &mut tx,
            Event::new(
                tenant_id,
                admin.id,
                &data::UserRegistered {
                    user: admin.clone().into(),
                },
            ),
        )
        .await
        .map_err(|e| failed("recording user.registered", e))?;
    #[expect(
        clippy::disallowed_methods,
        reason = "an operator command, not a request"
    )]
    tx.commit().await?;
    Ok(Bootstrapped {
        tenant_id,
        created_tenant,
        admin,
    })
}

/// A runtime error as an operator reads it: what failed, and why.
fn failed(what: &str, err: olympus_runtime::Error) -> anyhow::Error {
    match err.source() {
        Some(source) => anyhow::anyhow!("{what}: {source:#}"),
        None => anyhow::anyhow!("{what}: {}", err.message()),
    }
}
