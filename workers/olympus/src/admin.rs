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
    }
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
