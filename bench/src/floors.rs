//! The machine's floors, measured by `olympus bench` in the same run as an
//! operation, so its figures read as ratios rather than absolute numbers:
//! a bare NATS request-reply echo on the same server and client, a
//! Postgres point select on a pool of the workers' size, a one-row update
//! committed by itself (the least a write costs: a refresh's or an
//! order's floor, where the point select is a read's), the two together
//! (an echo whose responder runs the select), and Argon2id at the
//! workers' parameters: one verification alone, and one per core side by
//! side (the login limit).

use anyhow::Context as _;
use olympus_auth::hashing::Argon2Params;
use std::time::{Duration, Instant};

use crate::run::{run_callers, Load, Sample};

/// A bare NATS echo: a responder on its own connection answers each
/// request with its payload, as fast as NATS lets it.
pub async fn nats_echo(
    load: Load,
    nats_url: &str,
    client: &async_nats::Client,
) -> anyhow::Result<(Duration, Vec<Sample>)> {
    request_reply(load, nats_url, client, None).await
}

/// A NATS request-reply whose responder runs the point select of
/// [`postgres_point_select`] (on a pool of `pool_size`) before it answers:
/// one NATS round trip and one Postgres round trip, with nothing else, on
/// the same cores. The least a bearer read can cost on this machine.
pub async fn nats_through_postgres(
    load: Load,
    nats_url: &str,
    client: &async_nats::Client,
    database_url: &str,
    pool_size: u32,
) -> anyhow::Result<(Duration, Vec<Sample>)> {
    let select = PointSelect::connect(database_url, pool_size).await?;
    let result = request_reply(load, nats_url, client, Some(select.clone())).await;
    select.pool.close().await;
    result
}

/// Requests from `load.concurrency` callers to a responder on its own
/// connection: the echo answers on its subscription's task; with a
/// `select`, each request runs it on a task of its own (as a worker runs
/// each request) and the reply says whether it succeeded.
async fn request_reply(
    load: Load,
    nats_url: &str,
    client: &async_nats::Client,
    select: Option<PointSelect>,
) -> anyhow::Result<(Duration, Vec<Sample>)> {
    use futures::StreamExt;
    let responder = olympus_runtime::nats::connect(nats_url, "olympus-bench-echo").await?;
    let subject = format!("_BENCH.echo.{}", uuid::Uuid::now_v7().simple());
    let mut requests = responder.subscribe(subject.clone()).await?;
    responder.flush().await?;
    // The first failed select is printed; each counts as unexpected.
    let failed = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let answer = {
        let responder = responder.clone();
        tokio::spawn(async move {
            while let Some(message) = requests.next().await {
                let Some(reply) = message.reply else { continue };
                match &select {
                    None => {
                        let _ = responder.publish(reply, message.payload).await;
                    }
                    Some(select) => {
                        let (responder, select) = (responder.clone(), select.clone());
                        let failed = std::sync::Arc::clone(&failed);
                        tokio::spawn(async move {
                            let outcome = match select.run().await {
                                Ok(()) => "ok",
                                Err(err) => {
                                    if !failed.swap(true, std::sync::atomic::Ordering::Relaxed) {
                                        eprintln!("  the point select failed: {err}");
                                    }
                                    "error"
                                }
                            };
                            let _ = responder.publish(reply, outcome.into()).await;
                        });
                    }
                }
            }
        })
    };
    // `flush` only writes the subscription out: the server may not have
    // taken it in when the first request arrives on the other connection.
    let deadline = Instant::now() + Duration::from_secs(5);
    while let Err(err) = client.request(subject.clone(), "{}".into()).await {
        if Instant::now() > deadline {
            answer.abort();
            return Err(anyhow::Error::from(err).context("the echo never answered"));
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let result = run_callers(load, {
        let client = client.clone();
        move |_| {
            let client = client.clone();
            let subject = subject.clone();
            async move {
                let started = Instant::now();
                let reply = client.request(subject, "{}".into()).await?;
                anyhow::Ok((started.elapsed(), &reply.payload[..] != b"error"))
            }
        }
    })
    .await;
    answer.abort();
    result
}

/// A primary-key select on a pool of `pool_size` connections.
pub async fn postgres_point_select(
    load: Load,
    database_url: &str,
    pool_size: u32,
) -> anyhow::Result<(Duration, Vec<Sample>)> {
    let select = PointSelect::connect(database_url, pool_size).await?;
    let result = run_callers(load, {
        let select = select.clone();
        move |_| {
            let select = select.clone();
            async move {
                let started = Instant::now();
                select.run().await?;
                anyhow::Ok((started.elapsed(), true))
            }
        }
    })
    .await;
    select.pool.close().await;
    result
}

/// A one-row `UPDATE` committed by itself, on a pool of `pool_size`: each
/// caller updates its own row of a table made for the measurement and
/// dropped after it, so no two wait on one row. Its commit is flushed to
/// disk as every write of the workers' is; what a write costs beyond a
/// read on this machine, whatever else it does.
pub async fn postgres_committed_update(
    load: Load,
    database_url: &str,
    pool_size: u32,
) -> anyhow::Result<(Duration, Vec<Sample>)> {
    let pool = open_pool(database_url, pool_size).await?;
    let table = format!("olympus_bench_update_floor_{}", std::process::id());
    sqlx::query(&format!(
        "CREATE TABLE {table} (id integer PRIMARY KEY, n bigint NOT NULL)"
    ))
    .execute(&pool)
    .await?;
    let measured = async {
        let rows = i32::try_from(load.concurrency)?;
        sqlx::query(&format!(
            "INSERT INTO {table} SELECT i, 0 FROM generate_series(0, $1 - 1) i"
        ))
        .bind(rows)
        .execute(&pool)
        .await?;
        let update: std::sync::Arc<str> =
            format!("UPDATE {table} SET n = n + 1 WHERE id = $1").into();
        run_callers(load, {
            let pool = pool.clone();
            move |caller| {
                let (pool, update) = (pool.clone(), std::sync::Arc::clone(&update));
                async move {
                    let started = Instant::now();
                    let updated = sqlx::query(&update)
                        .bind(i32::try_from(caller)?)
                        .execute(&pool)
                        .await?;
                    anyhow::Ok((started.elapsed(), updated.rows_affected() == 1))
                }
            }
        })
        .await
    }
    .await;
    let dropped = sqlx::query(&format!("DROP TABLE {table}"))
        .execute(&pool)
        .await;
    pool.close().await;
    let result = measured?;
    dropped.with_context(|| format!("dropping {table}"))?;
    Ok(result)
}

/// A pool of `pool_size` connections to `database_url`, all of them open,
/// so that none is opened while a floor is timed.
async fn open_pool(database_url: &str, pool_size: u32) -> anyhow::Result<sqlx::PgPool> {
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(pool_size)
        .connect(database_url)
        .await?;
    let open = (0..pool_size).map(|_| pool.acquire());
    drop(futures::future::try_join_all(open).await?);
    Ok(pool)
}

/// A tenant's slug by its primary key, on a pool of its own whose
/// connections are all open before the first is timed.
#[derive(Clone)]
struct PointSelect {
    pool: sqlx::PgPool,
    id: uuid::Uuid,
}

impl PointSelect {
    async fn connect(database_url: &str, pool_size: u32) -> anyhow::Result<Self> {
        let pool = open_pool(database_url, pool_size).await?;
        let id = sqlx::query_scalar("SELECT id FROM tenants LIMIT 1")
            .fetch_one(&pool)
            .await?;
        Ok(Self { pool, id })
    }

    async fn run(&self) -> Result<(), sqlx::Error> {
        let _: Option<String> = sqlx::query_scalar("SELECT slug FROM tenants WHERE id = $1")
            .bind(self.id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(())
    }
}

/// A hasher of the workers' kind on `threads` threads, a password, and
/// its hash (with `params`) to verify against.
async fn hasher(
    params: Argon2Params,
    threads: usize,
) -> anyhow::Result<(
    olympus_auth::hashing::Passwords,
    olympus_contracts::Secret,
    String,
)> {
    let passwords = olympus_auth::hashing::Passwords::new(threads, threads, params)?;
    let secret = olympus_contracts::Secret::new("bench-velvet-orbit-cactus-harmonica");
    let hash = passwords
        .admit(olympus_runtime::fairness::Party::Anonymous)
        .map_err(|_| anyhow::anyhow!("the hasher is busy"))?
        .hash(&secret)
        .await?;
    Ok((passwords, secret, hash))
}

/// The median time of one Argon2id verification with `params`, on this
/// machine, one at a time.
pub async fn argon2_verify(params: Argon2Params) -> anyhow::Result<Duration> {
    let (passwords, secret, hash) = hasher(params, 1).await?;
    let mut times = Vec::new();
    for _ in 0..9 {
        let slot = passwords
            .admit(olympus_runtime::fairness::Party::Anonymous)
            .map_err(|_| anyhow::anyhow!("the hasher is busy"))?;
        let started = Instant::now();
        slot.verify(&secret, Some(&hash)).await?;
        times.push(started.elapsed());
    }
    times.sort();
    Ok(times[times.len() / 2])
}

/// What one access token costs on this machine, alone, by algorithm.
#[derive(Debug, Clone, Copy)]
pub struct TokenCosts {
    /// Signing one (the auth worker, at each login and refresh).
    pub sign: Duration,
    /// Checking one the way the workers do (header, signature, issuer and
    /// audience), once per token: verified tokens are remembered
    /// (`olympus_runtime::tokens`).
    pub check: Duration,
}

/// [`TokenCosts`] of `(EdDSA, HS256)`, each the median of 9 batches of 200.
pub fn token_costs() -> anyhow::Result<(TokenCosts, TokenCosts)> {
    use ed25519_dalek::pkcs8::EncodePrivateKey;
    use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
    let now = chrono::Utc::now().timestamp();
    let claims = serde_json::json!({
        "iss": "olympus", "aud": "olympus", "sub": uuid::Uuid::now_v7(),
        "tid": uuid::Uuid::now_v7(), "sid": uuid::Uuid::now_v7(), "role": "owner",
        "amr": ["pwd"], "auth_time": now, "iat": now, "nbf": now, "exp": now + 3600,
        "jti": uuid::Uuid::now_v7(),
    });
    let signing = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
    let der = signing
        .to_pkcs8_der()
        .map_err(|e| anyhow::anyhow!("encoding a key: {e}"))?;
    let public = signing.verifying_key().to_bytes();
    let secret = [7u8; 32];
    let cases = [
        (
            Algorithm::EdDSA,
            EncodingKey::from_ed_der(der.as_bytes()),
            DecodingKey::from_ed_der(&public),
        ),
        (
            Algorithm::HS256,
            EncodingKey::from_secret(&secret)?,
            DecodingKey::from_secret(&secret)?,
        ),
    ];
    let mut medians = Vec::new();
    for (algorithm, encoding, decoding) in cases {
        let mut header = Header::new(algorithm);
        header.typ = Some("at+jwt".to_owned());
        header.kid = Some("bench".to_owned());
        let token = jsonwebtoken::encode(&header, &claims, &encoding)?;
        let mut validation = Validation::new(algorithm);
        validation.set_issuer(&["olympus"]);
        validation.set_audience(&["olympus"]);
        let median = |mut work: Box<dyn FnMut() -> anyhow::Result<()> + '_>| {
            let mut batches = Vec::new();
            for _ in 0..9 {
                let started = Instant::now();
                for _ in 0..200 {
                    work()?;
                }
                batches.push(started.elapsed() / 200);
            }
            batches.sort();
            anyhow::Ok(batches[batches.len() / 2])
        };
        let sign = median(Box::new(|| {
            jsonwebtoken::encode(&header, &claims, &encoding)?;
            Ok(())
        }))?;
        let check = median(Box::new(|| {
            jsonwebtoken::decode_header(&token)?;
            jsonwebtoken::decode::<serde_json::Value>(&token, &decoding, &validation)?;
            Ok(())
        }))?;
        medians.push(TokenCosts { sign, check });
    }
    Ok((medians[0], medians[1]))
}

/// Argon2id on this machine at the workers' parameters: one verification's
/// time alone, and verifications per second with one per core running side
/// by side (the login limit as it is: `cores ÷ one verify` assumes that
/// verifications side by side do not slow each other, but they share the
/// memory bus and the last-level cache).
#[derive(Debug, Clone, Copy)]
pub struct Argon2Floor {
    pub alone: Duration,
    pub at_once: f64,
}

impl Argon2Floor {
    /// Measures both, the verifications side by side for `duration`.
    pub async fn measure(
        params: Argon2Params,
        cores: usize,
        duration: Duration,
    ) -> anyhow::Result<Self> {
        Ok(Self {
            alone: argon2_verify(params).await?,
            at_once: argon2_parallel(params, cores, duration).await?,
        })
    }
}

/// Argon2id verifications per second with `threads` of them running at
/// once for about `duration`, with `params`.
async fn argon2_parallel(
    params: Argon2Params,
    threads: usize,
    duration: Duration,
) -> anyhow::Result<f64> {
    let (passwords, secret, hash) = hasher(params, threads).await?;
    let started = Instant::now();
    let mut verifiers = tokio::task::JoinSet::new();
    for _ in 0..threads {
        let (passwords, secret, hash) = (passwords.clone(), secret.clone(), hash.clone());
        verifiers.spawn(async move {
            let mut done = 0u32;
            while started.elapsed() < duration {
                let slot = passwords
                    .admit(olympus_runtime::fairness::Party::Anonymous)
                    .map_err(|_| anyhow::anyhow!("the hasher is busy"))?;
                slot.verify(&secret, Some(&hash)).await?;
                done += 1;
            }
            anyhow::Ok(done)
        });
    }
    let mut done = 0u32;
    while let Some(result) = verifiers.join_next().await {
        done += result??;
    }
    Ok(f64::from(done) / started.elapsed().as_secs_f64())
}

/// The peak resident memory (VmHWM) of process `pid`, in MiB, when it is
/// on this machine.
pub fn peak_rss_mib(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// The pid of the one `olympus serve` on this machine, if there is exactly
/// one.
pub fn find_server() -> Option<u32> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
            continue;
        };
        let args: Vec<String> = cmdline
            .split(|b| *b == 0)
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        let is_olympus = args.first().is_some_and(|a| {
            a.rsplit('/')
                .next()
                .is_some_and(|n| n.starts_with("olympus"))
        });
        if is_olympus && args.iter().any(|a| a == "serve") {
            found.push(pid);
        }
    }
    (found.len() == 1).then(|| found[0])
}
