//! `olympus keys`: the operator's view of the signing keys and the moves
//! between their states (contract §4). Key material is never shown: `list`
//! gives ids, states and times; `add` prints the new key's id.

use clap::{Args, Subcommand};
use olympus_auth::keys::{self, Kek, Moved, RECOMMENDED_STANDBY};
use olympus_runtime::Config;

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// List every key (newest first): id, state, and when it was made,
    /// activated, retired and revoked. Never key material.
    List(ListArgs),
    /// Make a key on standby and print its id: published (verifiers learn
    /// it) at once, signing only once activated. Needs
    /// OLYMPUS_KEY_ENCRYPTION_KEY, under which its private half is stored.
    Add(Common),
    /// Make a standby key the one that signs; the active key retires (its
    /// tokens stay valid until they expire). Leave a new key on standby
    /// at least 10 minutes first, so that every verifier's cached key set
    /// has it.
    Activate(KidArgs),
    /// Retire the active key: the newest standby key signs from now on
    /// (refused with invalid_state without one). Its tokens stay valid
    /// until they expire.
    Retire(KidArgs),
    /// Revoke a key in any state: unpublished, and its tokens refused by
    /// every worker within a second. The active key hands signing to the
    /// newest standby key (refused with invalid_state without one). For a
    /// key that leaked; its holders must log in again.
    Revoke(KidArgs),
}

#[derive(Debug, Args)]
pub struct Common {
    #[command(flatten)]
    config: Config,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// One JSON object per key instead of a table.
    #[arg(long)]
    json: bool,

    #[command(flatten)]
    config: Config,
}

#[derive(Debug, Args)]
pub struct KidArgs {
    /// The key's id (`olympus keys list`).
    kid: String,

    #[command(flatten)]
    config: Config,
}

/// Runs a keys command.
pub async fn run(command: KeysCommand) -> anyhow::Result<()> {
    match command {
        KeysCommand::List(args) => list(args).await,
        KeysCommand::Add(args) => add(args.config).await,
        KeysCommand::Activate(args) => move_key(args, Move::Activate).await,
        KeysCommand::Retire(args) => move_key(args, Move::Retire).await,
        KeysCommand::Revoke(args) => move_key(args, Move::Revoke).await,
    }
}

/// A change of a key's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Move {
    Activate,
    Retire,
    Revoke,
}

/// Moves `args.kid`, after checking the key that starts signing by it:
/// `kid` itself when activated; the newest standby key when the active
/// `kid` is retired or revoked.
async fn move_key(args: KidArgs, how: Move) -> anyhow::Result<()> {
    let db = crate::migrated_db(&args.config).await?;
    let listed = keys::list(db.pool()).await?;
    let successor = match how {
        Move::Activate => Some(args.kid.as_str()),
        Move::Retire | Move::Revoke => {
            let active = listed
                .iter()
                .any(|k| k.kid == args.kid && k.state == "active");
            // Newest first.
            let newest = listed.iter().find(|k| k.state == "standby");
            newest.filter(|_| active).map(|k| k.kid.as_str())
        }
    };
    if let Some(kid) = successor {
        check_successor(&db, &args.config, &listed, kid).await?;
    }
    let now = chrono::Utc::now();
    let moved = match how {
        Move::Activate => keys::activate(db.pool(), &args.kid, now).await,
        Move::Retire => keys::retire(db.pool(), &args.kid, now).await,
        Move::Revoke => keys::revoke(db.pool(), &args.kid, now).await,
    };
    report(&args.config, moved).await
}

/// Before `kid` (a standby key) starts signing: refuses when it does not
/// open with this command's key-encryption key (the auth workers would fail
/// every login), says so when there is none to check with, and warns when
/// it has been on standby for less than [`RECOMMENDED_STANDBY`].
async fn check_successor(
    db: &olympus_runtime::Db,
    config: &Config,
    listed: &[keys::KeyInfo],
    kid: &str,
) -> anyhow::Result<()> {
    let Some(key) = listed.iter().find(|k| k.kid == kid && k.state == "standby") else {
        return Ok(());
    };
    match Kek::from_config(config) {
        Ok(kek) => {
            if let Err(err) = keys::open_stored(db.pool(), &kek, kid).await {
                anyhow::bail!(
                    "{err:#}: the auth workers could not sign with it. Give this command the \
                     OLYMPUS_KEY_ENCRYPTION_KEY of the auth workers, or revoke {kid} and add a \
                     key with theirs"
                );
            }
        }
        Err(_) => eprintln!(
            "warning: OLYMPUS_KEY_ENCRYPTION_KEY is not set here, so whether key {kid} opens \
             under the auth workers' is not checked (`olympus doctor` with it checks)"
        ),
    }
    let waited = (chrono::Utc::now() - key.created_at)
        .to_std()
        .unwrap_or_default();
    if waited < RECOMMENDED_STANDBY {
        eprintln!(
            "warning: key {kid} has been on standby for {}s only; verifiers that cache the key \
             set (the gateway's /.well-known/jwks.json: 5 minutes) may not know it yet and \
             refuse its tokens until they fetch it again. Recommended: {} minutes on standby",
            waited.as_secs(),
            RECOMMENDED_STANDBY.as_secs() / 60
        );
    }
    Ok(())
}

async fn list(args: ListArgs) -> anyhow::Result<()> {
    let db = crate::migrated_db(&args.config).await?;
    let listed = keys::list(db.pool()).await?;
    let time = |at: Option<chrono::DateTime<chrono::Utc>>| {
        at.map_or_else(
            || "-".to_owned(),
            |at| at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        )
    };
    if args.json {
        for key in &listed {
            let line = serde_json::json!({
                "kid": key.kid,
                "state": key.state,
                "created_at": key.created_at,
                "activated_at": key.activated_at,
                "retired_at": key.retired_at,
                "revoked_at": key.revoked_at,
            });
            println!("{line}");
        }
        return Ok(());
    }
    let row = |cells: [&str; 6]| {
        let line = format!(
            "{:<20} {:<8} {:<20} {:<20} {:<20} {}",
            cells[0], cells[1], cells[2], cells[3], cells[4], cells[5]
        );
        println!("{}", line.trim_end());
    };
    row(["KID", "STATE", "CREATED", "ACTIVATED", "RETIRED", "REVOKED"]);
    for key in &listed {
        row([
            &key.kid,
            &key.state,
            &time(Some(key.created_at)),
            &time(key.activated_at),
            &time(key.retired_at),
            &time(key.revoked_at),
        ]);
    }
    if listed.is_empty() {
        eprintln!("no keys yet: the first `olympus serve` running the auth worker makes one");
    }
    Ok(())
}

async fn add(config: Config) -> anyhow::Result<()> {
    let kek = Kek::from_config(&config)?;
    let db = crate::migrated_db(&config).await?;
    let kid = keys::add(db.pool(), &kek, chrono::Utc::now()).await?;
    println!("{kid}");
    tell_workers(&config).await;
    eprintln!(
        "key {kid} is on standby: published now, it signs once activated. After at least {} \
         minutes (verifiers refresh their key set): olympus keys activate {kid}",
        RECOMMENDED_STANDBY.as_secs() / 60
    );
    Ok(())
}

/// Prints the moves, then tells the workers (see [`tell_workers`]).
async fn report(config: &Config, moved: Result<Vec<Moved>, keys::Refused>) -> anyhow::Result<()> {
    for Moved { kid, from, to } in moved? {
        println!("{kid}: {} -> {}", from.as_str(), to.as_str());
    }
    tell_workers(config).await;
    Ok(())
}

/// Tells every process on NATS that the keys changed, so that they read
/// them at once; without it (NATS away, or this user may not publish the
/// broadcast, as in the shipped NATS layout) they read them within 250 ms.
async fn tell_workers(config: &Config) {
    let told = async {
        let (client, refusals) =
            crate::hints::connect(&config.nats_url, "olympus-keys", None).await?;
        let subjects = olympus_contracts::Subjects::new(&config.subject_prefix)?;
        olympus_runtime::revocation::broadcast_keys_changed(&client, &subjects, chrono::Utc::now())
            .await?;
        if let Some(refused) = crate::hints::refused(&refusals) {
            anyhow::bail!("{refused}");
        }
        anyhow::Ok(())
    };
    match tokio::time::timeout(std::time::Duration::from_secs(3), told).await {
        Ok(Ok(())) => {}
        Ok(Err(err)) => eprintln!(
            "note: the workers were not told at once ({err:#}); they read the change within 250 ms"
        ),
        Err(_) => eprintln!(
            "note: NATS did not answer within 3 s; the workers read the change within 250 ms"
        ),
    }
}
