//! `olympus admin`: operator commands on accounts.

use anyhow::Context;
use clap::{Args, Subcommand};
use olympus_contracts::{Secret, Subjects};
use olympus_runtime::Config;
use std::io::{BufRead, IsTerminal};

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create the platform tenant (`platform`) if it does not exist and a
    /// platform administrator (an owner of it) with this address. The
    /// password is read from standard input: typed at a prompt, or piped
    /// (`printf '%s\n' "$PW" | olympus admin bootstrap --email ...`); never
    /// from the command line. An address that already has an account there
    /// is an error.
    Bootstrap(BootstrapArgs),
    /// Show or set a tenant's own request rate: requests a second it may
    /// send to each process (all bearer operations together) and the burst
    /// above it, instead of OLYMPUS_TENANT_RATE and OLYMPUS_TENANT_BURST.
    /// Beyond it, its requests get `rate_limited`. Every process applies a
    /// change within a second. Prints the tenant's setting as one JSON line
    /// (`request_rate` null: the default).
    TenantRate(TenantRateArgs),
}

#[derive(Debug, Args)]
pub struct TenantRateArgs {
    /// The tenant: its slug or its id.
    tenant: String,

    /// Requests a second to each process; 0: no limit for this tenant,
    /// whatever the default.
    #[arg(long, conflicts_with = "default", value_parser = clap::value_parser!(u32).range(0..=1_000_000))]
    rate: Option<u32>,

    /// Requests at once above the rate (the bucket's size); without it, one
    /// second's worth.
    #[arg(long, requires = "rate", value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    burst: Option<u32>,

    /// Take the tenant's own rate away: the default applies again.
    #[arg(long)]
    default: bool,

    #[command(flatten)]
    config: Config,
}

#[derive(Debug, Args)]
pub struct BootstrapArgs {
    /// The administrator's email address (their login, in tenant
    /// `platform`).
    #[arg(long)]
    email: String,

    /// Refused: a password on the command line is visible to every user of
    /// the machine (ps, shell history). Pipe it on standard input.
    #[arg(long, hide = true)]
    password: Option<String>,

    #[command(flatten)]
    config: Config,
}

/// Runs an admin command.
pub async fn run(command: AdminCommand) -> anyhow::Result<()> {
    match command {
        AdminCommand::Bootstrap(args) => bootstrap(args).await,
        AdminCommand::TenantRate(args) => tenant_rate(args).await,
    }
}

async fn tenant_rate(args: TenantRateArgs) -> anyhow::Result<()> {
    let db = crate::migrated_db(&args.config).await?;
    // A slug may look like an id (signup is public): one tenant's slug
    // and another's id is refused rather than guessed.
    let found: Vec<uuid::Uuid> =
        sqlx::query_scalar("SELECT id FROM tenants WHERE slug = $1 OR id = $2")
            .bind(&args.tenant)
            .bind(uuid::Uuid::parse_str(&args.tenant).ok())
            .fetch_all(db.pool())
            .await
            .context("reading the tenant")?;
    if found.len() > 1 {
        db.close().await;
        anyhow::bail!(
            "{:?} is one tenant's slug and another tenant's id: name the tenant you mean by its \
             other name (`olympus call tenant.get` shows both)",
            args.tenant
        );
    }
    let id = found.first().copied();
    let setting = match (args.rate, args.default) {
        (Some(rate), _) => Some((Some(rate as i32), args.burst.map(|b| b as i32))),
        (None, true) => Some((None, None)),
        (None, false) => None,
    };
    let query = match setting {
        Some((rate, burst)) => sqlx::query_as(
            "UPDATE tenants SET request_rate = $1, request_burst = $2 WHERE id = $3
             RETURNING id, slug, request_rate, request_burst",
        )
        .bind(rate)
        .bind(burst),
        None => sqlx::query_as(
            "SELECT id, slug, request_rate, request_burst FROM tenants WHERE id = $1",
        ),
    };
    let row: Option<(uuid::Uuid, String, Option<i32>, Option<i32>)> = query
        .bind(id)
        .fetch_optional(db.pool())
        .await
        .context("reading the tenant")?;
    db.close().await;
    let Some((id, slug, rate, burst)) = row else {
        anyhow::bail!("no tenant has the slug or id {:?}", args.tenant);
    };
    if setting.is_some() {
        tracing::info!(
            tenant_id = %id,
            slug = %slug,
            request_rate = ?rate,
            request_burst = ?burst,
            "tenant rate set: every process applies it within a second"
        );
    }
    println!(
        "{}",
        serde_json::json!({
            "tenant_id": id,
            "slug": slug,
            "request_rate": rate,
            "request_burst": burst,
        })
    );
    Ok(())
}

async fn bootstrap(args: BootstrapArgs) -> anyhow::Result<()> {
    if args.password.is_some() {
        anyhow::bail!(
            "--password is refused: a password on the command line is visible to every user of \
             this machine; pipe it on standard input instead"
        );
    }
    let password = read_password()?;
    let config = args.config;
    let subjects = Subjects::new(&config.subject_prefix)?;
    let db = crate::migrated_db(&config).await?;
    let done =
        crate::bootstrap::run(&db, &subjects, &args.email, &password, config.argon2_params).await?;
    db.close().await;
    tracing::info!(
        tenant_id = %done.tenant_id,
        created_tenant = done.created_tenant,
        user_id = %done.admin.id,
        email = %done.admin.email,
        "platform administrator created: log in with tenant \"platform\""
    );
    Ok(())
}

/// One line from standard input: at a terminal, without echo.
fn read_password() -> anyhow::Result<Secret> {
    let line = if std::io::stdin().is_terminal() {
        rpassword::prompt_password("Password for the new administrator: ")
            .context("reading the password from the terminal")?
    } else {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("reading the password from standard input")?;
        line
    };
    let password = line.trim_end_matches(['\r', '\n']);
    if password.is_empty() {
        anyhow::bail!("no password on standard input (pipe it, or type it at the prompt)");
    }
    Ok(Secret::new(password))
}
