//! `olympus doctor`: what is wrong with this deployment, and the command
//! that fixes it. It checks what `serve` needs (Postgres, its roles and
//! migrations, NATS, JetStream streams, signing keys) and what a running
//! mesh shows (workers answering `$SRV.PING`, the outbox backlog and dead
//! letters), prints one line per check, and exits 1 when any fails.

use olympus_contracts::Subjects;
use olympus_runtime::{Config, Db};
use std::time::Duration;

/// One check's verdict.
enum Verdict {
    Ok(String),
    Warn(String, String),
    Fail(String, String),
}

fn print(name: &str, verdict: &Verdict) -> bool {
    match verdict {
        Verdict::Ok(what) => {
            println!("ok    {name}: {what}");
            true
        }
        Verdict::Warn(what, fix) => {
            println!("warn  {name}: {what}\n      fix: {fix}");
            true
        }
        Verdict::Fail(what, fix) => {
            println!("FAIL  {name}: {what}\n      fix: {fix}");
            false
        }
    }
}

/// Runs every check; `Ok(false)` when one failed.
pub async fn run(config: Config) -> anyhow::Result<bool> {
    let mut healthy = true;
    let subjects = Subjects::new(&config.subject_prefix)?;

    // Postgres, its roles and its migrations.
    let db = Db::connect(
        &config.database_url,
        config.app_database_url.as_deref(),
        2,
        false,
    )
    .await;
    let db = match db {
        Ok(db) => {
            healthy &= print("postgres", &Verdict::Ok(config.database_url_redacted()));
            Some(db)
        }
        Err(err) => {
            healthy &= print(
                "postgres",
                &Verdict::Fail(
                    format!("{err:#}"),
                    "start Postgres, check DATABASE_URL, or create the database with `olympus migrate`"
                        .into(),
                ),
            );
            None
        }
    };
    if let Some(db) = &db {
        let applied: Result<Vec<i64>, _> = sqlx::query_scalar(
            "SELECT version FROM _sqlx_migrations WHERE success ORDER BY version",
        )
        .fetch_all(db.pool())
        .await;
        let known: Vec<i64> = olympus_runtime::db::MIGRATOR
            .iter()
            .map(|m| m.version)
            .collect();
        let verdict = match applied {
            Ok(applied) if known.iter().all(|v| applied.contains(v)) => {
                Verdict::Ok(format!("{} migrations applied", applied.len()))
            }
            Ok(applied) => Verdict::Fail(
                format!("{} of {} migrations applied", applied.len(), known.len()),
                "`olympus migrate` (serve applies them too at start)".into(),
            ),
            Err(_) => Verdict::Fail(
                "no migration has run on this database".into(),
                "`olympus migrate`".into(),
            ),
        };
        healthy &= print("migrations", &verdict);
        let verdict = match db.check_roles().await {
            Ok(()) => Verdict::Ok("owner may read every tenant; requests run unprivileged".into()),
            Err(err) => Verdict::Fail(
                format!("{err:#}"),
                "see README, In production: Database roles".into(),
            ),
        };
        healthy &= print("database roles", &verdict);
        let backlog: Result<(i64, i64), _> = sqlx::query_as(
            "SELECT (SELECT count(*) FROM outbox WHERE published_at IS NULL),
                    (SELECT count(*) FROM outbox_dead_letters)",
        )
        .fetch_one(db.pool())
        .await;
        if let Ok((unpublished, dead)) = backlog {
            let verdict = if dead > 0 {
                Verdict::Warn(
                    format!("{unpublished} unpublished, {dead} parked for good"),
                    "`olympus events dead-letters` lists them; `--requeue ID` once the cause is fixed".into(),
                )
            } else {
                Verdict::Ok(format!("{unpublished} unpublished, no dead letters"))
            };
            healthy &= print("outbox", &verdict);
        }
    }

    // Signing keys.
    for (name, verdict) in signing_keys(&config, db.as_ref()).await {
        healthy &= print(name, &verdict);
    }

    // NATS, the streams, the workers.
    let nats = crate::hints::connect(&config.nats_url, "olympus-doctor", None).await;
    match nats {
        Err(err) => {
            healthy &= print(
                "nats",
                &Verdict::Fail(
                    format!("{err:#}"),
                    "start nats-server with -js, or check NATS_URL".into(),
                ),
            );
        }
        Ok((nats, refusals)) => {
            let version = nats.server_info().version;
            let (major, minor, patch) = olympus_runtime::nats::RECOMMENDED_SERVER;
            let verdict = match olympus_runtime::nats::older_than_recommended(&version) {
                Some(true) => Verdict::Warn(
                    format!("{}, nats-server {version}", config.nats_url_redacted()),
                    format!(
                        "production needs nats-server {major}.{minor}.{patch} or later \
                         (sync_interval; the fixes of Jepsen's analysis)"
                    ),
                ),
                _ => Verdict::Ok(format!(
                    "{}, nats-server {version}",
                    config.nats_url_redacted()
                )),
            };
            healthy &= print("nats", &verdict);
            // Streams are the relay's business: look with its user if it has one.
            let relay = match config
                .relay_nats_url
                .as_deref()
                .filter(|u| !u.trim().is_empty())
            {
                Some(url) => match crate::hints::connect(url, "olympus-doctor", None).await {
                    Ok(connected) => Some(connected),
                    // The streams are the relay's: without its connection
                    // they cannot be checked, and serve could not start.
                    Err(err) => {
                        healthy &= print(
                            "relay's nats",
                            &Verdict::Fail(
                                format!("{err:#}"),
                                "check OLYMPUS_RELAY_NATS_URL (the relay's user and password)"
                                    .into(),
                            ),
                        );
                        None
                    }
                },
                None => Some((nats.clone(), refusals.clone())),
            };
            if let Some((relay, relay_refusals)) = relay {
                let js = async_nats::jetstream::new(relay);
                for stream in [subjects.events_stream(), subjects.mail_stream()] {
                    let verdict = match tokio::time::timeout(Duration::from_secs(3), js.get_stream(&stream)).await {
                        Ok(Ok(_)) => Verdict::Ok("present".into()),
                        // A refusal is the cause, whatever the call said.
                        _ if crate::hints::refused(&relay_refusals).is_some() => Verdict::Fail(
                            crate::hints::refused(&relay_refusals).unwrap_or_default(),
                            "run doctor as a user that may read streams (the relay's: \
                             OLYMPUS_RELAY_NATS_URL), or grant it in nats/nats-server.conf"
                                .into(),
                        ),
                        Ok(Err(err)) if stream_not_found(&err) => Verdict::Fail(
                            "missing".into(),
                            "`olympus serve` creates the streams when it starts".into(),
                        ),
                        Ok(Err(err)) => Verdict::Fail(
                            format!("{err}"),
                            "run nats-server with -js (JetStream); `olympus serve` creates the streams at start".into(),
                        ),
                        Err(_) => Verdict::Fail(
                            "no answer from JetStream within 3 s".into(),
                            "run nats-server with -js (JetStream)".into(),
                        ),
                    };
                    healthy &= print(&format!("stream {stream}"), &verdict);
                }
                let settings = olympus_runtime::outbox::StreamSettings::from_config(&config);
                if let Some(api) = &settings.subscribers_api {
                    let theirs = async_nats::jetstream::with_prefix(js.client(), api);
                    let stream = subjects.events_stream();
                    let verdict = match tokio::time::timeout(Duration::from_secs(3), theirs.get_stream(&stream)).await {
                        Ok(Ok(_)) => Verdict::Ok("present".into()),
                        _ => Verdict::Fail(
                            format!("missing, or {api} does not reach the subscribers' account"),
                            "`olympus serve` creates it at start; nats/nats-server.conf imports OLYMPUS_SUBSCRIBERS_API".into(),
                        ),
                    };
                    healthy &= print(&format!("subscribers' copy of {stream}"), &verdict);
                }
                if let Some(name) = &settings.mailer_consumer {
                    let stream = subjects.mail_stream();
                    let found = js.get_consumer_from_stream::<async_nats::jetstream::consumer::pull::Config, _, _>(name, &stream);
                    let verdict = match tokio::time::timeout(Duration::from_secs(3), found).await {
                        Ok(Ok(_)) => Verdict::Ok("present".into()),
                        _ => Verdict::Fail(
                            "missing".into(),
                            "`olympus serve` creates it at start (OLYMPUS_MAILER_CONSUMER)".into(),
                        ),
                    };
                    healthy &= print(&format!("mailer's consumer {name} of {stream}"), &verdict);
                }
            }
            let found = ping(&nats, subjects.prefix()).await;
            // Flushed: a refused subscription to the inbox is known now.
            nats.flush().await.ok();
            for service in ["olympus-auth", "olympus-tenant", "olympus-commerce"] {
                let count = found.iter().filter(|name| *name == service).count();
                let verdict = if count > 0 {
                    Verdict::Ok(format!("{count} instance(s) answer $SRV.PING"))
                } else if let Some(refused) = crate::hints::refused(&refusals) {
                    Verdict::Fail(
                        format!("cannot tell: {refused}"),
                        "see the refusal above: NATS_URL's user, or OLYMPUS_NATS_INBOX_PREFIX"
                            .into(),
                    )
                } else {
                    Verdict::Warn(
                        "no instance answers".into(),
                        format!(
                            "`olympus serve` (OLYMPUS_SUBJECT_PREFIX={})",
                            subjects.prefix()
                        ),
                    )
                };
                healthy &= print(service, &verdict);
            }
        }
    }
    if let Some(db) = db {
        db.close().await;
    }
    Ok(healthy)
}

/// Whether JetStream answered that the stream does not exist (rather than
/// not answering at all: JetStream off).
fn stream_not_found(err: &async_nats::jetstream::context::GetStreamError) -> bool {
    use async_nats::jetstream::context::GetStreamErrorKind;
    matches!(err.kind(), GetStreamErrorKind::JetStream(e)
        if e.error_code() == async_nats::jetstream::ErrorCode::STREAM_NOT_FOUND)
}

/// The micro services of `prefix` that answer `$SRV.PING` within half a
/// second.
async fn ping(nats: &async_nats::Client, prefix: &str) -> Vec<String> {
    use futures::StreamExt;
    let inbox = nats.new_inbox();
    let Ok(mut replies) = nats.subscribe(inbox.clone()).await else {
        return Vec::new();
    };
    if nats
        .publish_with_reply("$SRV.PING", inbox, "".into())
        .await
        .is_err()
    {
        return Vec::new();
    }
    let mut found = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_millis(500);
    while let Ok(Some(message)) = tokio::time::timeout_at(deadline, replies.next()).await {
        if let Ok(ping) = serde_json::from_slice::<serde_json::Value>(&message.payload) {
            if ping["metadata"]["subject_prefix"] == prefix {
                if let Some(name) = ping["name"].as_str() {
                    found.push(name.to_owned());
                }
            }
        }
    }
    found
}

/// The key-encryption key, the signing keys' states and ages, and what is
/// left of a move from revision 2.
async fn signing_keys(config: &Config, db: Option<&Db>) -> Vec<(&'static str, Verdict)> {
    use olympus_auth::keys::{self, Kek};
    let mut verdicts = Vec::new();
    let set = config
        .key_encryption_key
        .as_deref()
        .is_some_and(|k| !k.trim().is_empty());
    let kek = match Kek::existing(config) {
        Ok(Some(kek)) if set => {
            verdicts.push(("key-encryption key", Verdict::Ok("set".into())));
            Some(kek)
        }
        Ok(None) => {
            verdicts.push((
                "key-encryption key",
                Verdict::Warn(
                    "OLYMPUS_KEY_ENCRYPTION_KEY is not set, and the development one is not made yet".into(),
                    "the first `olympus serve` with the auth worker makes it; production sets OLYMPUS_KEY_ENCRYPTION_KEY".into(),
                ),
            ));
            None
        }
        Ok(Some(kek)) => {
            verdicts.push((
                "key-encryption key",
                Verdict::Warn(
                    "OLYMPUS_KEY_ENCRYPTION_KEY is not set: the development key signs".into(),
                    "production sets OLYMPUS_KEY_ENCRYPTION_KEY=$(openssl rand -base64 32) from its secret store".into(),
                ),
            ));
            Some(kek)
        }
        Err(err) => {
            verdicts.push((
                "key-encryption key",
                Verdict::Fail(
                    format!("{err:#}"),
                    "set OLYMPUS_KEY_ENCRYPTION_KEY (32 bytes, base64) for every process running the auth worker".into(),
                ),
            ));
            None
        }
    };
    let Some(db) = db else {
        return verdicts;
    };
    let listed = match keys::list(db.pool()).await {
        Ok(listed) => listed,
        Err(err) => {
            verdicts.push((
                "signing keys",
                Verdict::Fail(
                    format!("{err:#}"),
                    "`olympus migrate`, then `olympus doctor` again".into(),
                ),
            ));
            return verdicts;
        }
    };
    let now = chrono::Utc::now();
    let active = listed.iter().find(|k| k.state == "active");
    let standby = listed.iter().filter(|k| k.state == "standby").count();
    let verdict = match active {
        None => Verdict::Warn(
            "no key is active yet".into(),
            "the first `olympus serve` running the auth worker makes one".into(),
        ),
        Some(key) => {
            let age = (now - key.activated_at.unwrap_or(key.created_at)).num_days();
            // The active key and every standby key (each may take over)
            // must open with the auth worker's key-encryption key.
            let mut opens = Ok(());
            if let Some(kek) = &kek {
                for candidate in listed
                    .iter()
                    .filter(|k| k.state == "active" || k.state == "standby")
                {
                    if let Err(err) = keys::open_stored(db.pool(), kek, &candidate.kid).await {
                        opens = Err(err);
                        break;
                    }
                }
            }
            if let Err(err) = opens {
                Verdict::Fail(
                    format!("{err:#}"),
                    "give the auth worker the OLYMPUS_KEY_ENCRYPTION_KEY the key was made with \
                     (a standby key made under another: `olympus keys revoke KID`)"
                        .into(),
                )
            } else if age >= config.signing_key_max_age_days as i64 {
                Verdict::Warn(
                    format!("the active key {} has signed for {age} days (OLYMPUS_SIGNING_KEY_MAX_AGE_DAYS={})", key.kid, config.signing_key_max_age_days),
                    "rotate: `olympus keys add`, wait at least 10 minutes, then `olympus keys activate KID`".into(),
                )
            } else if standby == 0 {
                Verdict::Warn(
                    format!("the active key {} has signed for {age} days, and no key is on standby to take over if it must be revoked", key.kid),
                    "`olympus keys add` (published at once, signs only once activated)".into(),
                )
            } else {
                Verdict::Ok(format!(
                    "active {} ({age} days), {standby} on standby",
                    key.kid
                ))
            }
        }
    };
    verdicts.push(("signing keys", verdict));
    let legacy = config
        .legacy_hs256_keys
        .as_deref()
        .is_some_and(|k| !k.trim().is_empty());
    if legacy {
        let first = listed.iter().map(|k| k.created_at).min();
        let closes = first.map(|at| at + config.access_ttl() + chrono::Duration::seconds(5));
        let verdict = match closes {
            Some(closes) if closes <= now => Verdict::Warn(
                "OLYMPUS_LEGACY_HS256_KEYS is set, but every token it could verify has expired"
                    .into(),
                "remove OLYMPUS_LEGACY_HS256_KEYS".into(),
            ),
            Some(closes) => Verdict::Ok(format!(
                "HS256 tokens issued before the upgrade verify until {}",
                closes.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            )),
            None => Verdict::Ok("HS256 tokens verify until the first Ed25519 key is made".into()),
        };
        verdicts.push(("legacy HS256 keys", verdict));
    }
    if std::env::var("OLYMPUS_JWT_KEYS").is_ok_and(|v| !v.trim().is_empty()) {
        verdicts.push((
            "legacy HS256 keys",
            Verdict::Warn(
                "OLYMPUS_JWT_KEYS is set but no longer read".into(),
                "remove it, or rename it OLYMPUS_LEGACY_HS256_KEYS for one access token lifetime after the upgrade".into(),
            ),
        ));
    }
    verdicts
}
