//! `olympus events dead-letters`: the outbox rows the relay parked because
//! JetStream will never accept them, and putting one back.

use clap::Args;
use olympus_runtime::outbox::dead_letters;
use olympus_runtime::Db;
use std::io::Write;
use uuid::Uuid;

/// Options of `olympus events dead-letters`.
#[derive(Debug, Args)]
pub struct DeadLettersArgs {
    /// Postgres URL (the owner role, as `serve` uses).
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/olympus",
        hide_env_values = true
    )]
    database_url: String,

    /// Put the parked row with this id back at the end of the outbox; the
    /// relay publishes it (or parks it again, with the new error).
    #[arg(long, value_name = "ID")]
    requeue: Option<Uuid>,
}

/// Lists parked rows as JSON lines (without their payloads), or re-queues one.
pub async fn run(args: DeadLettersArgs) -> anyhow::Result<()> {
    let db = Db::connect(&args.database_url, None, 1, false).await?;
    let result = match args.requeue {
        Some(id) => {
            if !dead_letters::requeue(db.pool(), id).await? {
                anyhow::bail!("no dead letter has the id {id}");
            }
            tracing::info!(%id, "re-queued: the relay will publish it");
            Ok(())
        }
        None => {
            let mut out = std::io::stdout().lock();
            for letter in dead_letters::list(db.pool()).await? {
                serde_json::to_writer(&mut out, &letter)?;
                writeln!(out)?;
            }
            Ok(())
        }
    };
    db.close().await;
    result
}
