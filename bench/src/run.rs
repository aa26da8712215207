//! The `olympus bench` command: a load generator against running workers,
//! reporting latency percentiles.
//!
//! It signs up a fresh tenant, then sends `--requests` requests of one
//! operation from `--concurrency` concurrent callers, optionally while
//! `--background-logins` callers log in continuously (to see whether cheap
//! requests stay fast while Argon2 is busy), or while `--login-burst`
//! failing logins are published all at once (to see them shed: each must
//! get `invalid_credentials` or `unavailable`, soon, and the measured
//! operation must not slow down). After the run it prints the CPU each
//! process spent per request (`crate::cpu`): the server and its Argon2
//! threads, Postgres, nats-server, the bench, and the whole machine against
//! what its cores had. For `--op login`, each caller logs in
//! as its own user, registered for the run, as real logins come from many
//! users: one account's parallel logins wait on its row and share its
//! lockout budget (at most `OLYMPUS_LOCKOUT_THRESHOLD` tries in flight).
//!
//! With `--mix`, it runs a blend of operations for `--duration` instead and
//! keeps going through failed requests, for fault drills (`crate::mix`).

use anyhow::{bail, Context};
use async_nats::HeaderMap;
use clap::{Args, ValueEnum};
use futures::TryStreamExt;
use olympus_auth::hashing::Argon2Params;
use olympus_contracts::auth::{LoginRequest, RegisterRequest, SessionReply};
use olympus_contracts::operation::{self, Operation};
use olympus_contracts::shapes::Empty;
use olympus_contracts::tenant::{
    CreateTenantReply, CreateTenantRequest, NewOwner, TenantReply, UpdateTenantRequest,
};
use olympus_contracts::{headers, ContentType, Secret, Subjects};
use serde::Serialize;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// `olympus bench`: a run ([`BenchArgs`]), or `seed`.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct BenchCli {
    /// Instead of a run: fill a database for one (`seed`), or compare a
    /// seeded database with an empty one (`scale`).
    #[command(subcommand)]
    command: Option<BenchCommand>,

    #[command(flatten)]
    run: BenchArgs,
}

/// Runs `olympus bench`.
pub async fn bench_cli(cli: BenchCli) -> anyhow::Result<()> {
    match cli.command {
        Some(BenchCommand::Seed(seed)) => crate::seed::run(seed).await,
        Some(BenchCommand::Scale(scale)) => crate::scale::run(scale).await,
        None => bench(cli.run).await,
    }
}

/// Options of an `olympus bench` run.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Skip measuring the machine's floors after the operation (a NATS
    /// echo, a Postgres point select, a one-row update committed by itself
    /// on a table made for it and dropped after, an echo whose
    /// responder runs the select, not for logins; an Argon2id verify alone,
    /// and for logins also one per core side by side for 3 s, the login
    /// limit, both before the run and after it; after `--mix`, 2,000
    /// requests each, with ratios for auth.me's share) and the server's
    /// peak RSS.
    #[arg(long)]
    no_floors: bool,

    /// Pid of the `olympus serve` whose peak memory and CPU per request to
    /// report (found by itself when exactly one runs on this machine).
    #[arg(long)]
    server_pid: Option<u32>,

    #[command(flatten)]
    pub(crate) mesh: olympus_runtime::config::Mesh,

    /// The operation to measure.
    #[arg(long, value_enum, default_value_t = BenchOp::Me)]
    op: BenchOp,

    /// Instead of one operation, run a blend for `--duration`: 60 % auth.me,
    /// 15 % tenant.get, 10 % auth.refresh (each caller along its own
    /// refresh-token chain), 5 % auth.login, 10 % commerce.orders.create (one
    /// unit, with an Idempotency-Key; sent again with the same key after no
    /// reply or a "try again" error, for up to 60 s). Failed requests never
    /// stop the run: they are counted by error code, `timeout`,
    /// `no_responders` or `transport`, per operation and per second.
    #[arg(
        long,
        conflicts_with_all = ["op", "requests", "background_logins", "login_burst"]
    )]
    mix: bool,

    /// The commands `olympus drill` runs during the mix.
    #[arg(skip)]
    faults: Vec<crate::mix::Fault>,

    /// How long `--mix` runs: `30s`, `2m`, `1h`, `1m30s` or plain seconds; 1 s
    /// to 1 h [default: 30s].
    #[arg(long, value_parser = crate::mix::parse_duration)]
    duration: Option<Duration>,

    /// How long each `--mix` request waits for its reply before it counts as
    /// a `timeout` (`5s`, `500ms`, ...); 100 ms to 60 s [default: 5s].
    #[arg(long, value_parser = crate::mix::parse_duration)]
    timeout: Option<Duration>,

    /// Requests to send (at most 1,000,000).
    #[arg(long, default_value_t = 2000)]
    pub(crate) requests: usize,

    /// Concurrent callers.
    #[arg(long, default_value_t = 16)]
    pub(crate) concurrency: usize,

    /// Callers logging in continuously meanwhile (at most 64).
    #[arg(long, default_value_t = 0)]
    background_logins: usize,

    /// Failing logins published all at once when the run starts (at most
    /// 100,000); reports how each was answered, and when.
    #[arg(long, default_value_t = 0)]
    login_burst: usize,

    /// Encoding of the requests.
    #[arg(long, value_enum, default_value_t = Encoding::Msgpack)]
    encoding: Encoding,

    /// Postgres of the workers, for the bare-SQL floors of `--op
    /// orders-create` and `--op checkout`
    /// (as the owner; the floor runs as the request role, like the workers).
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/olympus",
        hide_env_values = true
    )]
    database_url: String,

    /// The request role's URL, when it is not `DATABASE_URL` as olympus_app.
    #[arg(long, env = "OLYMPUS_APP_DATABASE_URL", hide_env_values = true)]
    app_database_url: Option<String>,

    /// The Argon2id cost the server hashes with (set it as the server's):
    /// the Argon2 floor verifies a hash made with it.
    #[arg(
        long,
        env = "OLYMPUS_ARGON2_PARAMS",
        value_enum,
        default_value_t = Argon2Params::DEFAULT
    )]
    argon2_params: Argon2Params,
}

/// What `olympus bench` does besides a run.
#[derive(Debug, clap::Subcommand)]
enum BenchCommand {
    /// Fill a new database at a chosen scale through COPY (issue 34): at
    /// `--scale 1`, 10,000 tenants, a million users and sessions, 100,000
    /// products, two million orders with their lines and payments, a
    /// million audit events, a day's idempotency keys, outbox rows and failed
    /// logins.
    Seed(crate::seed::SeedArgs),
    /// Every operation of issue 34 on a seeded database (`DATABASE_URL`,
    /// from `seed`) against the same on an empty one made for the run, in
    /// one run: each side's throughput, p50 and p99, the ratio, each side's
    /// CPU per request by process, and the floors. It starts an `olympus
    /// serve` for each (they need `OLYMPUS_KEY_ENCRYPTION_KEY`).
    Scale(crate::scale::ScaleArgs),
}

impl BenchArgs {
    /// `--requests` from `--concurrency` callers.
    pub(crate) fn load(&self) -> Load {
        Load {
            requests: self.requests,
            concurrency: self.concurrency,
        }
    }

    /// The encoding of the requests, for the report.
    pub(crate) fn encoding(&self) -> Encoding {
        self.encoding
    }

    /// Postgres of the workers, as the owner.
    pub(crate) fn database_url(&self) -> &str {
        &self.database_url
    }

    /// The request role's URL, when it is not `DATABASE_URL` as olympus_app.
    pub(crate) fn app_database_url(&self) -> Option<&str> {
        self.app_database_url.as_deref()
    }
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum BenchOp {
    /// `auth.me` (bearer token check + one query).
    Me,
    /// `tenant.get`.
    TenantGet,
    /// `auth.login` (Argon2id), each caller as its own user, registered
    /// for the run.
    Login,
    /// `auth.login` with a wrong password.
    LoginFailed,
    /// `auth.refresh`, chained: each caller follows its own session's
    /// refresh tokens (one login per caller first).
    Refresh,
    /// `tenant.create`, also timing its `tenant.created` event's arrival.
    Signup,
    /// `commerce.orders.create`, one line of one unit; then, as a floor, the
    /// same writes as bare SQL transactions from as many callers (needs
    /// `DATABASE_URL`).
    OrdersCreate,
    /// `commerce.carts.checkout` of carts of 3 lines with a 10 % promotion
    /// (made first, unmeasured); then, as a floor, the same statements as
    /// bare SQL transactions from as many callers (needs `DATABASE_URL`).
    Checkout,
    /// `auth.me` of a quiet tenant (4 callers, `--requests` requests) alone,
    /// then beside another tenant flooding `auth.me` from `--concurrency`
    /// callers: the quiet tenant's throughput and p50/p99 in both, and the
    /// flood's replies (shed or answered).
    Noisy,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum Encoding {
    Msgpack,
    Json,
}

const PASSWORD: &str = "bench-velvet-orbit-cactus-harmonica";

/// Runs the load and prints the percentiles.
/// Options of `olympus drill`: the mix of `olympus bench --mix`, with a
/// fault (and its recovery) made by shell commands at set moments.
#[derive(Debug, Args)]
pub struct DrillArgs {
    /// The shell command that makes the fault, e.g. `systemctl kill -s
    /// KILL nats-server@2` or `ssh db-1 sudo pkill -9 postgres`.
    #[arg(long, value_name = "COMMAND")]
    fault: String,

    /// When to make it, from the start of the load.
    #[arg(long, default_value = "5s", value_parser = crate::mix::parse_duration)]
    fault_at: Duration,

    /// The shell command that ends the fault (a restart, a promotion), run
    /// `--recover-after` after the fault's.
    #[arg(long, value_name = "COMMAND")]
    recover: Option<String>,

    /// How long after the fault to run `--recover`.
    #[arg(long, default_value = "5s", value_parser = crate::mix::parse_duration)]
    recover_after: Duration,

    #[command(flatten)]
    bench: BenchArgs,
}

/// Runs a drill: `olympus bench --mix` (30 s unless `--duration`) with the
/// fault and the recovery at their moments, then a table of what callers
/// saw per second, when failures began and ended, and whether every order
/// made has its one `order.placed` event (when the user may read the
/// events stream).
pub async fn drill(args: DrillArgs) -> anyhow::Result<()> {
    let mut bench = args.bench;
    bench.mix = true;
    bench.no_floors = true;
    let duration = bench.duration.unwrap_or(Duration::from_secs(30));
    let mut faults = vec![crate::mix::Fault {
        what: "fault",
        at: args.fault_at,
        command: args.fault,
    }];
    if let Some(recover) = args.recover {
        faults.push(crate::mix::Fault {
            what: "recovery",
            at: args.fault_at + args.recover_after,
            command: recover,
        });
    }
    if let Some(last) = faults.last().filter(|f| f.at >= duration) {
        bail!(
            "the {} comes at {}s, after the load ends at {}s: give a longer --duration",
            last.what,
            last.at.as_secs(),
            duration.as_secs()
        );
    }
    bench.faults = faults;
    self::bench(bench).await
}

pub async fn bench(args: BenchArgs) -> anyhow::Result<()> {
    if args.requests == 0 || args.requests > 1_000_000 {
        bail!("--requests must be 1 to 1000000");
    }
    if args.concurrency == 0 || args.concurrency > 1024 {
        bail!("--concurrency must be 1 to 1024");
    }
    if args.background_logins > 64 {
        bail!("--background-logins must be at most 64");
    }
    if args.login_burst > 100_000 {
        bail!("--login-burst must be at most 100000");
    }
    if !args.mix && (args.duration.is_some() || args.timeout.is_some()) {
        bail!("--duration and --timeout are for --mix (and olympus drill)");
    }
    let duration = args.duration.unwrap_or(Duration::from_secs(30));
    if duration < Duration::from_secs(1) || duration > Duration::from_secs(3600) {
        bail!("--duration must be 1s to 1h");
    }
    let timeout = args.timeout.unwrap_or(Duration::from_secs(5));
    if timeout < Duration::from_millis(100) || timeout > Duration::from_secs(60) {
        bail!("--timeout must be 100ms to 60s");
    }
    let content_type = match args.encoding {
        Encoding::Msgpack => ContentType::MsgPack,
        Encoding::Json => ContentType::Json,
    };
    let subjects = Subjects::new(&args.mesh.subject_prefix)?;
    let nats = olympus_runtime::nats::options(&args.mesh.nats_url)?
        .request_timeout(Some(Duration::from_secs(30)))
        .connect(olympus_runtime::nats::addresses(&args.mesh.nats_url)?)
        .await
        .with_context(|| {
            format!(
                "connecting to NATS at {}",
                olympus_runtime::config::redact_url_credentials(&args.mesh.nats_url)
            )
        })?;
    let client = Client {
        nats,
        subjects,
        content_type,
    };

    let slug = format!("bench-{}", &uuid::Uuid::now_v7().simple().to_string()[20..]);
    let email = format!("operator@{slug}.example.com");
    let signup: CreateTenantReply = client
        .call(
            operation::TENANT_CREATE,
            None,
            &CreateTenantRequest {
                slug: slug.clone(),
                name: "Bench".into(),
                owner: NewOwner {
                    email: email.clone(),
                    password: Secret::new(PASSWORD),
                    display_name: None,
                },
            },
        )
        .await
        .context("signing up the bench tenant")?;
    let token = signup.tokens.access_token.expose().to_owned();
    let login = LoginRequest {
        tenant: slug.clone(),
        email: email.clone(),
        password: Secret::new(PASSWORD),
    };
    if args.mix {
        let mix = crate::mix::Mix {
            concurrency: args.concurrency,
            duration,
            timeout,
            login,
            token,
            tenant_id: signup.tenant.id,
            faults: args.faults.clone(),
        };
        let me = crate::mix::run(&client, mix).await?;
        if !args.no_floors {
            floors(&args, &client.nats, "auth.me (in the mix)", me, None).await?;
        }
        return Ok(());
    }
    let failed_login = LoginRequest {
        password: Secret::new("a-wrong-password-for-bench"),
        ..login.clone()
    };
    // One request per caller for logins (each its own user); the same for
    // every caller otherwise.
    let requests: Vec<Request> = match args.op {
        BenchOp::Signup => return bench_signups(&client, &args).await,
        BenchOp::OrdersCreate => return bench_orders(&client, &args, &signup).await,
        BenchOp::Checkout => return crate::checkout::bench_checkout(&client, &args, &signup).await,
        BenchOp::Noisy => return crate::noisy::bench_noisy(&client, &args, &signup).await,
        BenchOp::Refresh => return bench_refresh(&client, &args, &login).await,
        BenchOp::Me => vec![Request::new(
            operation::AUTH_ME,
            Some(&token),
            &Empty {},
            content_type,
            true,
        )?],
        BenchOp::TenantGet => vec![Request::new(
            operation::TENANT_GET,
            Some(&token),
            &Empty {},
            content_type,
            true,
        )?],
        BenchOp::Login => {
            let requests = caller_logins(&client, &token, &slug, args.concurrency).await?;
            println!(
                "login: each of the {} callers logs in as its own user",
                args.concurrency
            );
            requests
        }
        // A failed login is the expected outcome here.
        BenchOp::LoginFailed => vec![Request::new(
            operation::AUTH_LOGIN,
            None,
            &failed_login,
            content_type,
            false,
        )?],
    };

    let login_run = matches!(args.op, BenchOp::Login | BenchOp::LoginFailed);
    // A virtual machine's speed drifts by a third within minutes: a login
    // run's Argon2 floor is measured before the run as well as after it
    // (before the background logins and the burst start).
    let argon2_before = if login_run && !args.no_floors {
        Some(argon2_floor(&args).await?)
    } else {
        None
    };

    let stop = Arc::new(AtomicBool::new(false));
    let background: Vec<_> = (0..args.background_logins)
        .map(|_| {
            let client = client.clone();
            let stop = Arc::clone(&stop);
            let request = Request::new(operation::AUTH_LOGIN, None, &login, content_type, true);
            tokio::spawn(async move {
                let request = request?;
                let mut samples = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    samples.push(client.send(&request).await?);
                }
                anyhow::Ok(samples)
            })
        })
        .collect();

    let burst = (args.login_burst > 0).then(|| {
        let client = client.clone();
        let request = Request::new(
            operation::AUTH_LOGIN,
            None,
            &failed_login,
            content_type,
            false,
        );
        let count = args.login_burst;
        tokio::spawn(async move { login_burst(&client, &request?, count).await })
    });

    let server = args.server_pid.or_else(crate::floors::find_server);
    let cpu = crate::cpu::Snapshot::take(server);
    let (elapsed, samples) = run_requests(args.load(), &client, requests).await?;
    let cpu = cpu.report(server, samples.len(), elapsed);
    stop.store(true, Ordering::Relaxed);
    let mut login_samples = Vec::new();
    for task in background {
        login_samples.extend(task.await??);
    }

    println!(
        "{:?} x{} from {} callers in {:.2}s ({:.0}/s), {:?}{}",
        args.op,
        samples.len(),
        args.concurrency,
        elapsed.as_secs_f64(),
        samples.len() as f64 / elapsed.as_secs_f64(),
        args.encoding,
        if args.background_logins > 0 {
            format!(", while {} callers log in", args.background_logins)
        } else {
            String::new()
        }
    );
    let measured = report_throughput(&format!("{:?}", args.op), samples, Some(elapsed));
    let alongside = if args.background_logins > 0 || args.login_burst > 0 {
        " (the background logins and the burst included)"
    } else {
        ""
    };
    println!("  {cpu}{alongside}");
    if !login_samples.is_empty() {
        report("background logins", login_samples);
    }
    if !args.no_floors {
        let label = format!("{:?}", args.op);
        floors(&args, &client.nats, &label, measured, argon2_before).await?;
    }
    if let Some(burst) = burst {
        burst.await??;
    }
    Ok(())
}

/// `count` users of the bench tenant (`slug`, whose owner's token is
/// `token`), registered for the run (the tenant allows self-registration
/// for it), four at a time; a login request for each.
async fn caller_logins(
    client: &Client,
    token: &str,
    slug: &str,
    count: usize,
) -> anyhow::Result<Vec<Request>> {
    let _: TenantReply = client
        .call(
            operation::TENANT_UPDATE,
            Some(token),
            &UpdateTenantRequest {
                self_registration: Some(true),
                ..UpdateTenantRequest::default()
            },
        )
        .await
        .context("letting users register in the bench tenant")?;
    let logins: Vec<LoginRequest> = (0..count)
        .map(|i| LoginRequest {
            tenant: slug.to_owned(),
            email: format!("caller-{i}@{slug}.example.com"),
            password: Secret::new(PASSWORD),
        })
        .collect();
    futures::stream::iter(logins.iter().map(anyhow::Ok))
        .try_for_each_concurrent(4, |login| async move {
            let _: SessionReply = client
                .call(
                    operation::AUTH_REGISTER,
                    None,
                    &RegisterRequest {
                        tenant: login.tenant.clone(),
                        email: login.email.clone(),
                        password: login.password.clone(),
                        display_name: None,
                    },
                )
                .await
                .with_context(|| format!("registering {}", login.email))?;
            anyhow::Ok(())
        })
        .await?;
    logins
        .iter()
        .map(|login| {
            Request::new(
                operation::AUTH_LOGIN,
                None,
                login,
                client.content_type,
                true,
            )
        })
        .collect()
}

/// Argon2 on this machine at the workers' parameters, verifications side by
/// side for 3 s.
async fn argon2_floor(args: &BenchArgs) -> anyhow::Result<crate::floors::Argon2Floor> {
    crate::floors::Argon2Floor::measure(
        args.argon2_params,
        crate::cpu::cores(),
        Duration::from_secs(3),
    )
    .await
}

/// The machine's floors in the same run, and the ratio of `measured` (the
/// throughput of `label`) to each, and for a login run (`argon2_before`:
/// Argon2 measured before it) to the Argon2 limit; the server's peak memory
/// when it runs here.
async fn floors(
    args: &BenchArgs,
    nats: &async_nats::Client,
    label: &str,
    measured: f64,
    argon2_before: Option<crate::floors::Argon2Floor>,
) -> anyhow::Result<()> {
    let login = argon2_before.is_some();
    println!("floors (same run, same concurrency):");
    let (elapsed, samples) =
        crate::floors::nats_echo(args.load(), &args.mesh.nats_url, nats).await?;
    let echo = report_throughput("bare NATS echo", samples, Some(elapsed));
    let select = crate::floors::postgres_point_select(args.load(), &args.database_url, 16).await;
    report_floor(
        label,
        measured,
        ("Postgres point select", " (pool of 16)"),
        select,
        "; set DATABASE_URL",
    );
    let update =
        crate::floors::postgres_committed_update(args.load(), &args.database_url, 16).await;
    report_floor(
        label,
        measured,
        ("Postgres one-row update, committed", " (pool of 16)"),
        update,
        "",
    );
    println!("  {label} / NATS echo: {:.2}", measured / echo);
    if !login {
        // What one NATS and one Postgres round trip cost together here,
        // where they share the cores: the least a bearer read can cost.
        let both = crate::floors::nats_through_postgres(
            args.load(),
            &args.mesh.nats_url,
            nats,
            &args.database_url,
            16,
        )
        .await;
        report_floor(
            label,
            measured,
            ("NATS echo through a point select", ""),
            both,
            "",
        );
    }
    let (eddsa, hs256) = crate::floors::token_costs()?;
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    println!(
        "  one access token, alone: signing EdDSA {:.1} µs, HS256 {:.1} µs; checking EdDSA {:.1} µs, \
         HS256 {:.1} µs (once per token: verified tokens are remembered)",
        us(eddsa.sign),
        us(hs256.sign),
        us(eddsa.check),
        us(hs256.check)
    );
    let cores = crate::cpu::cores();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    match argon2_before {
        None => {
            let verify = crate::floors::argon2_verify(args.argon2_params).await?;
            println!(
                "  Argon2id verify ({}): {:.1} ms alone; {cores} cores / one verify = {:.0}/s",
                args.argon2_params,
                ms(verify),
                cores as f64 / verify.as_secs_f64()
            );
        }
        Some(before) => {
            let after = argon2_floor(args).await?;
            let alone = (before.alone + after.alone) / 2;
            let computed = cores as f64 / alone.as_secs_f64();
            println!(
                "  Argon2id verify ({}): {:.1} ms alone, the mean of {:.1} ms before the run and {:.1} ms after; {cores} cores / one verify = {computed:.0}/s",
                args.argon2_params,
                ms(alone),
                ms(before.alone),
                ms(after.alone),
            );
            // The limit as it is on this machine: one verification per
            // core, side by side.
            let limit = (before.at_once + after.at_once) / 2.0;
            println!(
                "  Argon2id, {cores} verifications at once: {limit:.0}/s, the mean of {:.0}/s before the run and {:.0}/s after; {:.2} of {cores} cores / one verify",
                before.at_once,
                after.at_once,
                limit / computed
            );
            println!(
                "  {label} / Argon2 limit ({cores} at once): {:.2}",
                measured / limit
            );
            println!(
                "  {label} / {cores} cores / one verify: {:.2}",
                measured / computed
            );
        }
    }
    match args.server_pid.or_else(crate::floors::find_server) {
        Some(pid) => match crate::floors::peak_rss_mib(pid) {
            Some(mib) => println!("  server (pid {pid}) peak RSS: {mib:.0} MiB"),
            None => println!("  server (pid {pid}): not on this machine"),
        },
        None => println!("  server peak RSS: not measured (pass --server-pid)"),
    }
    Ok(())
}

/// Reports a floor's run as `name` (with `detail` on its own line) and
/// `label`'s ratio to it, or why it was not measured (with `hint`).
fn report_floor(
    label: &str,
    measured: f64,
    (name, detail): (&str, &str),
    run: anyhow::Result<(Duration, Vec<Sample>)>,
    hint: &str,
) {
    match run {
        Ok((elapsed, samples)) => {
            let floor = report_throughput(&format!("{name}{detail}"), samples, Some(elapsed));
            println!("  {label} / {name}: {:.2}", measured / floor);
        }
        Err(err) => println!("  {name}: not measured ({err:#}{hint})"),
    }
}

/// Publishes `count` failing logins at once, each with its own reply
/// subject, and reports how and when each was answered.
async fn login_burst(client: &Client, request: &Request, count: usize) -> anyhow::Result<()> {
    use futures::StreamExt;

    let inbox = client.nats.new_inbox();
    let mut replies = client.nats.subscribe(format!("{inbox}.*")).await?;
    let subject = client
        .subjects
        .endpoint(request.subject_suffix.0, request.subject_suffix.1);
    let started = Instant::now();
    for i in 0..count {
        client
            .nats
            .publish_with_reply_and_headers(
                subject.clone(),
                format!("{inbox}.{i}"),
                request.headers.clone(),
                request.payload.clone(),
            )
            .await?;
    }
    client.nats.flush().await?;
    let published = started.elapsed();
    let (mut refused, mut shed, mut other) = (0, 0, 0);
    let mut samples = Vec::with_capacity(count);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while samples.len() < count {
        let Ok(Some(reply)) = tokio::time::timeout_at(deadline, replies.next()).await else {
            break;
        };
        let status = reply
            .headers
            .as_ref()
            .and_then(|h| h.get(headers::SERVICE_ERROR_CODE))
            .map(|v| v.as_str().to_owned());
        match status.as_deref() {
            Some("401") => refused += 1,
            Some("503") => shed += 1,
            _ => other += 1,
        }
        let expected = matches!(status.as_deref(), Some("401" | "503"));
        samples.push((started.elapsed(), expected));
    }
    println!(
        "login burst: {count} published in {:.0} ms; {} answered (invalid_credentials {refused}, \
         unavailable {shed}, other {other}), {} unanswered after 60 s",
        published.as_secs_f64() * 1000.0,
        samples.len(),
        count - samples.len(),
    );
    if !samples.is_empty() {
        report("burst start to each login's reply", samples);
    }
    Ok(())
}

/// Signups, and how long after each request its `tenant.created` event
/// reaches a plain subscriber: the relay's commit-to-stream latency plus
/// the request's own.
async fn bench_signups(client: &Client, args: &BenchArgs) -> anyhow::Result<()> {
    use futures::StreamExt;
    use std::collections::HashMap;
    use tokio::sync::Mutex;

    let events_subject = format!("{}.events.*.tenant.created", client.subjects.prefix());
    let mut events = client.nats.subscribe(events_subject).await?;
    let sent: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    // When each reply came: the change had committed by then.
    let replied: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let arrived: Arc<Mutex<Vec<(String, Instant)>>> = Arc::default();
    let collector = {
        let arrived = Arc::clone(&arrived);
        tokio::spawn(async move {
            while let Some(message) = events.next().await {
                let at = Instant::now();
                if let Ok(event) = serde_json::from_slice::<serde_json::Value>(&message.payload) {
                    let slug = event["data"]["tenant"]["slug"]
                        .as_str()
                        .unwrap_or("")
                        .to_owned();
                    arrived.lock().await.push((slug, at));
                }
            }
        })
    };
    let run = uuid::Uuid::now_v7().simple().to_string();
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let callers: Vec<_> = (0..args.concurrency)
        .map(|_| {
            let client = client.clone();
            let next = Arc::clone(&next);
            let sent = Arc::clone(&sent);
            let replied = Arc::clone(&replied);
            let run = run.clone();
            let total = args.requests;
            tokio::spawn(async move {
                let mut samples = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= total {
                        break;
                    }
                    let slug = format!("load-{}-{i}", &run[20..]);
                    let body = CreateTenantRequest {
                        slug: slug.clone(),
                        name: "Load".into(),
                        owner: NewOwner {
                            email: format!("operator@{slug}.example.com"),
                            password: Secret::new(PASSWORD),
                            display_name: None,
                        },
                    };
                    let request = Request::new(
                        operation::TENANT_CREATE,
                        None,
                        &body,
                        client.content_type,
                        true,
                    )?;
                    sent.lock().await.insert(slug.clone(), Instant::now());
                    samples.push(client.send(&request).await?);
                    replied.lock().await.insert(slug, Instant::now());
                }
                anyhow::Ok(samples)
            })
        })
        .collect();
    let mut samples = Vec::new();
    for caller in callers {
        samples.extend(caller.await??);
    }
    let elapsed = started.elapsed();
    // Give the last events a moment to arrive (only this run's count: the
    // bench tenant's own event may arrive too).
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let seen = {
            let sent = sent.lock().await;
            let arrived = arrived.lock().await;
            arrived
                .iter()
                .filter(|(slug, _)| sent.contains_key(slug))
                .count()
        };
        if seen >= samples.len() || Instant::now() >= deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    collector.abort();
    let sent = sent.lock().await;
    let replied = replied.lock().await;
    let arrived = arrived.lock().await;
    let event_samples: Vec<Sample> = arrived
        .iter()
        .filter_map(|(slug, at)| sent.get(slug).map(|s| (at.duration_since(*s), true)))
        .collect();
    // An event may arrive before its reply: that counts as no delay.
    let commit_samples: Vec<Sample> = arrived
        .iter()
        .filter_map(|(slug, at)| {
            replied
                .get(slug)
                .map(|r| (at.saturating_duration_since(*r), true))
        })
        .collect();
    println!(
        "Signup x{} from {} callers in {:.2}s ({:.0}/s), {:?}; {} of {} tenant.created events seen",
        samples.len(),
        args.concurrency,
        elapsed.as_secs_f64(),
        samples.len() as f64 / elapsed.as_secs_f64(),
        args.encoding,
        event_samples.len(),
        samples.len(),
    );
    report("request to reply", samples);
    if !event_samples.is_empty() {
        report("request to tenant.created", event_samples);
        report("commit (reply) to tenant.created", commit_samples);
    }
    Ok(())
}

/// Orders of one unit of a product with stock enough for all, then the
/// same writes as bare SQL transactions on the request role: lock the
/// product, take the stock, the tenant's next number, the order, its line
/// and its event's outbox row (marked published, so the relay leaves it).
async fn bench_orders(
    client: &Client,
    args: &BenchArgs,
    signup: &CreateTenantReply,
) -> anyhow::Result<()> {
    use olympus_contracts::commerce::{
        CreateOrderRequest, CreateProductRequest, Money, OrderItemRequest, ProductReply,
    };
    let token = signup.tokens.access_token.expose();
    let product: ProductReply = client
        .call(
            operation::COMMERCE_PRODUCTS_CREATE,
            Some(token),
            &CreateProductRequest {
                sku: "BENCH-1".into(),
                name: "Bench product".into(),
                description: None,
                price: Money {
                    amount: 1999,
                    currency: "EUR".into(),
                },
                stock: Some(1_000_000_000),
            },
        )
        .await
        .context("creating the bench product")?;
    let product_id = product.product.id;
    let order = CreateOrderRequest {
        items: vec![OrderItemRequest {
            variant_id: None,
            product_id: Some(product_id),
            quantity: 1,
        }],
        shipping_address: None,
        billing_address: None,
        contact_phone: None,
    };
    let request = Request::new(
        operation::COMMERCE_ORDERS_CREATE,
        Some(token),
        &order,
        client.content_type,
        true,
    )?;
    let (elapsed, samples) = run_request(args.load(), client, request).await?;
    println!(
        "OrdersCreate x{} from {} callers in {:.2}s ({:.0}/s), {:?}",
        samples.len(),
        args.concurrency,
        elapsed.as_secs_f64(),
        samples.len() as f64 / elapsed.as_secs_f64(),
        args.encoding,
    );
    report("orders.create", samples);

    let db = olympus_runtime::Db::connect(
        &args.database_url,
        args.app_database_url.as_deref(),
        u32::try_from(args.concurrency.min(32)).unwrap_or(32),
        false,
    )
    .await?;
    let tenant_id = signup.tenant.id;
    let customer_id = signup.owner.id;
    let (elapsed, samples) = run_callers(args.load(), {
        let db = db.clone();
        move |_| {
            let db = db.clone();
            async move {
                let started = Instant::now();
                bare_order(&db, tenant_id, customer_id, product_id).await?;
                anyhow::Ok((started.elapsed(), true))
            }
        }
    })
    .await?;
    println!(
        "bare SQL order transactions x{} from {} callers in {:.2}s ({:.0}/s)",
        samples.len(),
        args.concurrency,
        elapsed.as_secs_f64(),
        samples.len() as f64 / elapsed.as_secs_f64(),
    );
    report("bare SQL", samples);
    db.close().await;
    Ok(())
}

/// The writes of one order as `orders.create` makes them, as plain SQL in
/// a tenant transaction, without anything else the worker does (decoding,
/// validation, pricing, building the event): five round trips, as the
/// worker's (`processes::postgres_round_trips_per_operation`): the scope
/// with `BEGIN`, the customer's gate and the variants locked in id order,
/// the stock taken with the tenant's next number and the customer's row
/// read, the order with its lines and its outbox row, and the commit.
async fn bare_order(
    db: &olympus_runtime::Db,
    tenant_id: uuid::Uuid,
    customer_id: uuid::Uuid,
    product_id: uuid::Uuid,
) -> anyhow::Result<()> {
    let now = chrono::Utc::now();
    let order_id = uuid::Uuid::now_v7();
    let mut tx = db.tenant(tenant_id).await?;
    sqlx::query(
        "WITH gate AS MATERIALIZED (SELECT olympus_person_gate_shared($2))
         SELECT v.id, v.product_id, v.sku, p.name, v.option_values, v.price_amount, v.currency,
                v.stock, v.status, p.status
           FROM gate, product_variants v JOIN products p ON p.id = v.product_id
          WHERE v.id = ANY($1) ORDER BY v.id FOR UPDATE OF v",
    )
    .bind(vec![product_id])
    .bind(customer_id)
    .execute(&mut *tx)
    .await?;
    let (number, _present): (i64, bool) = sqlx::query_as(
        "WITH taken AS (
             UPDATE product_variants v SET stock = v.stock - w.quantity, updated_at = $3
               FROM unnest($1::uuid[], $2::bigint[]) AS w(id, quantity)
              WHERE v.id = w.id)
         INSERT INTO order_numbers (tenant_id, last) VALUES ($4, 1)
         ON CONFLICT (tenant_id) DO UPDATE SET last = order_numbers.last + 1
         RETURNING last, EXISTS (SELECT 1 FROM users WHERE id = $5)",
    )
    .bind(vec![product_id])
    .bind(vec![1_i64])
    .bind(now)
    .bind(tenant_id)
    .bind(customer_id)
    .fetch_one(&mut *tx)
    .await?;
    sqlx::query(
        "WITH placed AS (
             INSERT INTO orders (id, tenant_id, number, customer_id, status, currency,
                                 total_amount, created_at, updated_at)
             VALUES ($1, $2, $3, $4, 'pending_payment', 'EUR', 1999, $5, $5)),
         lines AS (
             INSERT INTO order_items (order_id, tenant_id, position, product_id, variant_id,
                                      option_values, sku, name, unit_amount, quantity,
                                      line_amount)
             VALUES ($1, $2, 0, $6, $6, '{}', 'BENCH-1', 'Bench product', 1999, 1, 1999))
         INSERT INTO outbox (id, tenant_id, aggregate_id, kind, subject, correlation_id, payload,
                             published_at)
         VALUES ($7, $2, $1, 'event', 'bench.floor', 'bench', $8, now())",
    )
    .bind(order_id)
    .bind(tenant_id)
    .bind(number)
    .bind(customer_id)
    .bind(now)
    .bind(product_id)
    .bind(uuid::Uuid::now_v7())
    .bind(vec![b'{'; 600])
    .execute(&mut *tx)
    .await?;
    // The floor is bare SQL, as an application without Olympus's runtime
    // would commit.
    #[expect(clippy::disallowed_methods, reason = "the bare-SQL floor")]
    tx.commit().await?;
    Ok(())
}

/// `auth.refresh` along `--concurrency` chains ([`Chains`]).
async fn bench_refresh(
    client: &Client,
    args: &BenchArgs,
    login: &LoginRequest,
) -> anyhow::Result<()> {
    use olympus_contracts::auth::SessionReply;
    let mut chains = Vec::with_capacity(args.concurrency);
    for _ in 0..args.concurrency {
        let session: SessionReply = client
            .call(operation::AUTH_LOGIN, None, login)
            .await
            .context("logging in to start a refresh chain")?;
        chains.push(session.tokens.refresh_token);
    }
    let chains = Arc::new(Chains::new(chains));
    let server = args.server_pid.or_else(crate::floors::find_server);
    let cpu = crate::cpu::Snapshot::take(server);
    let (elapsed, samples) = run_callers(args.load(), {
        let client = client.clone();
        move |_| {
            let client = client.clone();
            let chains = Arc::clone(&chains);
            async move { chains.refresh(&client).await }
        }
    })
    .await?;
    let cpu = cpu.report(server, samples.len(), elapsed);
    println!(
        "Refresh (chained) x{} from {} callers in {:.2}s ({:.0}/s), {:?}",
        samples.len(),
        args.concurrency,
        elapsed.as_secs_f64(),
        samples.len() as f64 / elapsed.as_secs_f64(),
        args.encoding,
    );
    let measured = report_throughput("auth.refresh", samples, Some(elapsed));
    println!("  {cpu}");
    if !args.no_floors {
        floors(args, &client.nats, "auth.refresh", measured, None).await?;
    }
    Ok(())
}

/// How much a measurement sends: `requests` calls in all, from
/// `concurrency` callers.
#[derive(Debug, Clone, Copy)]
pub struct Load {
    pub requests: usize,
    pub concurrency: usize,
}

/// Refresh-token chains: each refresh takes a token, presents it, and puts
/// the rotated one back, so no token is presented twice (which would
/// revoke its session as stolen).
#[derive(Default)]
pub(crate) struct Chains(std::sync::Mutex<Vec<olympus_contracts::Secret>>);

impl Chains {
    pub(crate) fn new(tokens: Vec<olympus_contracts::Secret>) -> Self {
        Self(std::sync::Mutex::new(tokens))
    }

    /// One measured refresh along a chain; a failed one stops the caller.
    pub(crate) async fn refresh(&self, client: &Client) -> anyhow::Result<Sample> {
        use olympus_contracts::auth::{RefreshReply, RefreshRequest};
        let token = self
            .0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pop()
            .context("no refresh chain left (one broke)")?;
        let request = Request::new(
            operation::AUTH_REFRESH,
            None,
            &RefreshRequest {
                refresh_token: token,
            },
            client.content_type,
            true,
        )?;
        let (elapsed, reply) = client.exchange(&request, None).await;
        let reply = reply?;
        if reply
            .headers
            .as_ref()
            .and_then(|h| h.get(headers::SERVICE_ERROR_CODE))
            .is_some()
        {
            bail!(
                "a refresh failed: {}",
                String::from_utf8_lossy(&reply.payload)
            );
        }
        let rotated: RefreshReply = client
            .content_type
            .decode(&reply.payload)
            .map_err(|e| anyhow::anyhow!("decoding a refresh reply: {e}"))?;
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(rotated.tokens.refresh_token);
        Ok((elapsed, true))
    }
}

/// Runs `load.requests` calls of `one` from `load.concurrency` callers
/// (`one` gets the caller's number, from 0); the wall time and each call's
/// sample.
pub async fn run_callers<F, Fut>(load: Load, one: F) -> anyhow::Result<(Duration, Vec<Sample>)>
where
    F: Fn(usize) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = anyhow::Result<Sample>> + Send,
{
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let callers: Vec<_> = (0..load.concurrency)
        .map(|caller| {
            let one = one.clone();
            let next = Arc::clone(&next);
            let total = load.requests;
            tokio::spawn(async move {
                let mut samples = Vec::new();
                while next.fetch_add(1, Ordering::Relaxed) < total {
                    samples.push(one(caller).await?);
                }
                anyhow::Ok(samples)
            })
        })
        .collect();
    let mut samples = Vec::with_capacity(load.requests);
    for caller in callers {
        samples.extend(caller.await??);
    }
    Ok((started.elapsed(), samples))
}

/// [`run_callers`] sending the same `request` every time.
async fn run_request(
    load: Load,
    client: &Client,
    request: Request,
) -> anyhow::Result<(Duration, Vec<Sample>)> {
    run_requests(load, client, vec![request]).await
}

/// [`run_callers`], caller `i` sending `requests[i % requests.len()]`
/// every time.
pub(crate) async fn run_requests(
    load: Load,
    client: &Client,
    requests: Vec<Request>,
) -> anyhow::Result<(Duration, Vec<Sample>)> {
    let client = client.clone();
    let requests = Arc::new(requests);
    run_callers(load, move |caller| {
        let client = client.clone();
        let requests = Arc::clone(&requests);
        async move { client.send(&requests[caller % requests.len()]).await }
    })
    .await
}

/// One measured call: latency and whether it succeeded as expected.
pub type Sample = (Duration, bool);

fn report(name: &str, samples: Vec<Sample>) {
    report_throughput(name, samples, None);
}

/// Prints percentiles (and throughput, given the wall time); returns the
/// throughput.
pub(crate) fn report_throughput(
    name: &str,
    mut samples: Vec<Sample>,
    elapsed: Option<Duration>,
) -> f64 {
    let throughput = elapsed.map_or(0.0, |e| samples.len() as f64 / e.as_secs_f64());
    let errors = samples.iter().filter(|(_, ok)| !ok).count();
    samples.sort_unstable_by_key(|(d, _)| *d);
    println!(
        "  {name}: n={} unexpected={errors}{} {}",
        samples.len(),
        elapsed.map_or_else(String::new, |_| format!(" {throughput:.0}/s")),
        percentiles(samples.len(), |i| samples[i].0.as_secs_f64() * 1000.0),
    );
    throughput
}

/// `p50=…ms p90=…ms p99=…ms p999=…ms max=…ms` of `len` latencies sorted
/// ascending, `at(i)` being the i-th in milliseconds (`len` > 0).
pub(crate) fn percentiles(len: usize, at: impl Fn(usize) -> f64) -> String {
    let q = |q: f64| at(((len as f64 * q).ceil() as usize).clamp(1, len.max(1)) - 1);
    format!(
        "p50={:.2}ms p90={:.2}ms p99={:.2}ms p999={:.2}ms max={:.2}ms",
        q(0.50),
        q(0.90),
        q(0.99),
        q(0.999),
        q(1.0),
    )
}

/// A connection, the subjects and the encoding of every request.
#[derive(Clone)]
pub(crate) struct Client {
    pub(crate) nats: async_nats::Client,
    pub(crate) subjects: Subjects,
    pub(crate) content_type: ContentType,
}

/// A request ready to send again and again.
#[derive(Clone)]
pub(crate) struct Request {
    subject_suffix: (olympus_contracts::operation::Service, &'static str),
    headers: HeaderMap,
    payload: bytes::Bytes,
    expect_ok: bool,
}

impl Request {
    pub(crate) fn new<T: Serialize>(
        op: Operation,
        token: Option<&str>,
        body: &T,
        content_type: ContentType,
        expect_ok: bool,
    ) -> anyhow::Result<Self> {
        let mut headers = HeaderMap::new();
        headers.insert(headers::CONTENT_TYPE, content_type.as_str());
        if let Some(token) = token {
            headers.insert(headers::AUTHORIZATION, format!("Bearer {token}"));
        }
        let payload = content_type.encode(body)?;
        Ok(Self {
            subject_suffix: (op.service, op.name),
            headers,
            payload: payload.into(),
            expect_ok,
        })
    }

    /// The same request with one more header (an `Idempotency-Key`).
    pub(crate) fn with_header(mut self, name: &'static str, value: String) -> Self {
        self.headers.insert(name, value);
        self
    }
}

impl Client {
    /// Sends `request` once, waiting `timeout` for its reply (the
    /// connection's 30 s when `None`); the time until the reply or the
    /// error, and which it was.
    pub(crate) async fn exchange(
        &self,
        request: &Request,
        timeout: Option<Duration>,
    ) -> (
        Duration,
        Result<async_nats::Message, async_nats::RequestError>,
    ) {
        let subject = self
            .subjects
            .endpoint(request.subject_suffix.0, request.subject_suffix.1);
        let mut nats_request = async_nats::Request::new()
            .headers(request.headers.clone())
            .payload(request.payload.clone());
        if timeout.is_some() {
            nats_request = nats_request.timeout(timeout);
        }
        let started = Instant::now();
        let reply = self.nats.send_request(subject, nats_request).await;
        (started.elapsed(), reply)
    }

    /// One measured request; a transport error (no reply in time, no
    /// responders) stops the caller.
    pub(crate) async fn send(&self, request: &Request) -> anyhow::Result<Sample> {
        let (elapsed, reply) = self.exchange(request, None).await;
        let ok = reply?
            .headers
            .as_ref()
            .and_then(|h| h.get(headers::SERVICE_ERROR_CODE))
            .is_none();
        Ok((elapsed, ok == request.expect_ok))
    }

    /// One request whose success is needed: its decoded reply, or an error
    /// naming the operation and the error reply.
    pub(crate) async fn call<T: Serialize, R: serde::de::DeserializeOwned>(
        &self,
        op: Operation,
        token: Option<&str>,
        body: &T,
    ) -> anyhow::Result<R> {
        let request = Request::new(op, token, body, self.content_type, true)?;
        let (_, reply) = self.exchange(&request, None).await;
        let reply = reply?;
        if let Some(code) = reply
            .headers
            .as_ref()
            .and_then(|h| h.get(headers::SERVICE_ERROR_CODE))
        {
            bail!(
                "{} failed with {}: {}",
                op.name,
                code.as_str(),
                String::from_utf8_lossy(&reply.payload)
            );
        }
        self.content_type
            .decode(&reply.payload)
            .map_err(|e| anyhow::anyhow!("decoding the {} reply: {e}", op.name))
    }
}
