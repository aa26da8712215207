//! `olympus bench scale`: every operation issue 34 lists, on a seeded
//! database (`olympus bench seed`) against the same on an empty one, in
//! one run, as the ratio of the two.
//!
//! It starts two `olympus serve` of this binary, each on its own subject
//! prefix: one on the seeded database, one on a new, empty database made
//! for the run (and dropped after it). On the seeded side it works inside
//! the biggest tenant, `seed-0` (100,000 members, 50,000 products and
//! 50,000 orders at full scale), as its admin and as one of its members;
//! on the empty side inside a tenant it signs up, with a handful of
//! products, orders and events, so that every list has a page to give.
//! Each operation then runs on both sides in turn, `--rounds` times, the
//! order swapped every round (a virtual machine's speed drifts within
//! minutes); the report gives each side's throughput, p50 and p99 over
//! all its rounds, the ratio seeded / empty, and the machine's floors.
//! Under each operation, the CPU per request its side's server, Postgres
//! and nats-server spent (from `/proc`, where they run on this machine),
//! empty against seeded: whose cost grew with the data.
//!
//! Login is measured around Argon2: one caller at a time, its mean latency
//! less the mean time each login waited for its password verification, as
//! the side's server counted those very logins
//! (`olympus_password_hashing_seconds_total` on its `/metrics`, a port it
//! is given). The hash costs the same whatever the data; the rest, finding
//! the user and writing the session, is what may grow with it.

use anyhow::{bail, Context};
use chrono::{DateTime, Duration as TimeDelta, Utc};
use clap::{Args, ValueEnum};
use olympus_contracts::auth::{LoginRequest, LogoutRequest, RegisterRequest, SessionReply};
use olympus_contracts::commerce::{
    CheckoutRequest, CreateOrderRequest, CreateProductRequest, ListOrdersRequest,
    ListProductsRequest, Money, OrderItemRequest, OrderReply, Product, ProductReply,
    PromotionReply,
};
use olympus_contracts::event::EventType;
use olympus_contracts::operation::{self, Operation};
use olympus_contracts::shapes::{Empty, Page, PageRequest, User};
use olympus_contracts::tenant::{
    AuditListRequest, CreateTenantReply, CreateTenantRequest, NewOwner, TenantReply,
    UpdateTenantRequest,
};
use olympus_contracts::{ContentType, Secret, Subjects};
use olympus_runtime::config::Argon2Params;
use serde::Serialize;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use uuid::Uuid;

use crate::cpu::Spent;
use crate::run::{run_callers, Chains, Client, Load, Request, Sample};

/// Options of `olympus bench scale`.
#[derive(Debug, Args)]
pub struct ScaleArgs {
    /// The seeded database (`olympus bench seed`), as its owner. The run
    /// adds its own rows to it in `seed-0` (orders, sessions, carts, a
    /// promotion), as a day of traffic would. The empty database is made
    /// beside it on the same server, and dropped after the run.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/olympus",
        hide_env_values = true
    )]
    database_url: String,

    /// NATS server URL of both servers and the bench.
    #[arg(
        long,
        env = "NATS_URL",
        default_value = "nats://127.0.0.1:4222",
        hide_env_values = true
    )]
    nats_url: String,

    /// Requests per operation, side and round; a third of it for the
    /// writes (refresh, orders.create, carts.checkout), a thirtieth for
    /// logins (one at a time). Before its rounds, each operation runs
    /// unmeasured on each side (four requests per caller), to warm the
    /// connections and the plans.
    #[arg(long, default_value_t = 3000)]
    requests: usize,

    /// Concurrent callers (logins: one).
    #[arg(long, default_value_t = 16)]
    concurrency: usize,

    /// How many times each operation runs on each side, the order of the
    /// sides swapped every time.
    #[arg(long, default_value_t = 2)]
    rounds: usize,

    /// Only these operations (comma-separated); all of them by default.
    #[arg(long, value_enum, value_delimiter = ',')]
    only: Vec<ScaleOp>,

    /// The Argon2id cost the servers hash with (their
    /// `OLYMPUS_ARGON2_PARAMS`, which they inherit), and of the Argon2id
    /// floor printed after the operations.
    #[arg(
        long,
        env = "OLYMPUS_ARGON2_PARAMS",
        value_enum,
        default_value_t = Argon2Params::DEFAULT
    )]
    argon2_params: Argon2Params,
}

/// The operations of `olympus bench scale`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ScaleOp {
    /// `auth.me` of a member.
    Me,
    /// `tenant.get` of a member.
    TenantGet,
    /// `auth.refresh`, each caller along its own chain of a member's
    /// sessions.
    Refresh,
    /// `auth.login` less its Argon2id verification, one caller at a time,
    /// each login as one of a few members in turn.
    Login,
    /// `commerce.orders.create` of one unit, by a member.
    OrdersCreate,
    /// `commerce.orders.list`, a member's first page (their own orders).
    OrdersListMember,
    /// `commerce.orders.list`, an admin's first page (every order).
    OrdersListAdmin,
    /// `tenant.members.list`, the first page (20 members).
    Members,
    /// `tenant.members.list`, page 500 (members 9,981 to 10,000); on the
    /// empty side, its only page.
    MembersPage500,
    /// `commerce.products.list` with `q` = `lamp`, which an eighth of the
    /// seeded products match.
    ProductsSearch,
    /// `commerce.products.list` with `q` = `rug 49999`, which one product
    /// matches.
    ProductsSearchRare,
    /// `tenant.audit.list` of one event type (`user.logged_out`).
    AuditType,
    /// `tenant.audit.list` of one day (100 days ago on the seeded side,
    /// today on the empty one).
    AuditRange,
    /// `commerce.carts.checkout` of carts of 3 lines with a 10 % promotion
    /// (made first, unmeasured).
    Checkout,
}

/// The unmeasured run of each operation on each side before its rounds.
fn warm_up(args: &ScaleArgs) -> Load {
    Load {
        requests: args.concurrency * 4,
        concurrency: args.concurrency,
    }
}

impl ScaleOp {
    /// One measured run's requests and callers.
    fn load(self, args: &ScaleArgs) -> Load {
        let (requests, concurrency) = match self {
            Self::Refresh | Self::OrdersCreate | Self::Checkout => {
                (args.requests / 3, args.concurrency)
            }
            Self::Login => (args.requests / 30, 1),
            _ => (args.requests, args.concurrency),
        };
        Load {
            requests: requests.max(LOGIN_USERS),
            concurrency,
        }
    }

    fn label(self) -> &'static str {
        match self {
            Self::Me => "auth.me",
            Self::TenantGet => "tenant.get",
            Self::Refresh => "auth.refresh",
            Self::Login => "auth.login less Argon2",
            Self::OrdersCreate => "orders.create",
            Self::OrdersListMember => "orders.list, member",
            Self::OrdersListAdmin => "orders.list, admin",
            Self::Members => "members.list, page 1",
            Self::MembersPage500 => "members.list, page 500",
            Self::ProductsSearch => "products.list q=lamp",
            Self::ProductsSearchRare => "products.list q=rug 49999",
            Self::AuditType => "audit.list type",
            Self::AuditRange => "audit.list one day",
            Self::Checkout => "carts.checkout",
        }
    }
}

/// The seeded tenant the seeded side works in, and its users.
const SEEDED_TENANT: &str = "seed-0";
const SEEDED_ADMIN: &str = "admin@seed-0.example";
/// A member with one seeded order.
const SEEDED_MEMBER: &str = "user2@seed-0.example";
/// The bench's own users' password on the empty side.
const PASSWORD: &str = "bench-scale-velvet-orbit-cactus";
/// Members each side's logins take turns with.
const LOGIN_USERS: usize = 8;
/// What the empty side has of each listed thing at least: more than a
/// page of the default 20, so that both sides answer full pages.
const FULL_PAGE: usize = 24;
/// Members page 500 is after this many pages of the default 20.
const DEEP_PAGE: usize = 500;

/// Runs `olympus bench scale`.
pub async fn run(args: ScaleArgs) -> anyhow::Result<()> {
    if args.requests == 0 || args.requests > 100_000 {
        bail!("--requests must be 1 to 100000");
    }
    if args.concurrency == 0 || args.concurrency > 256 {
        bail!("--concurrency must be 1 to 256");
    }
    if args.rounds == 0 || args.rounds > 20 {
        bail!("--rounds must be 1 to 20");
    }
    if std::env::var_os("OLYMPUS_KEY_ENCRYPTION_KEY").is_none() {
        bail!(
            "set OLYMPUS_KEY_ENCRYPTION_KEY: the servers it starts need one, and the seeded \
             database's signing keys are sealed under the first one it was served with (use \
             the same one every run)"
        );
    }
    let ops: Vec<ScaleOp> = if args.only.is_empty() {
        ScaleOp::value_variants().to_vec()
    } else {
        args.only.clone()
    };
    let run_id = &Uuid::now_v7().simple().to_string()[20..];
    let empty_url = database_beside(&args.database_url, &format!("olympus_scale_empty_{run_id}"))?;
    let nats = olympus_runtime::nats::options(&args.nats_url)?
        .request_timeout(Some(Duration::from_secs(30)))
        .connect(olympus_runtime::nats::addresses(&args.nats_url)?)
        .await
        .with_context(|| {
            format!(
                "connecting to NATS at {}",
                olympus_runtime::config::redact_url_credentials(&args.nats_url)
            )
        })?;

    let mut servers = Servers {
        nats: nats.clone(),
        running: Vec::new(),
    };
    let result = async {
        let seeded = servers
            .start(&args, &args.database_url, &format!("scale-s-{run_id}"))
            .await?;
        let empty = servers
            .start(&args, &empty_url, &format!("scale-e-{run_id}"))
            .await?;
        let client = |subjects: Subjects| Client {
            nats: nats.clone(),
            subjects,
            content_type: ContentType::MsgPack,
        };
        let carts = if ops.contains(&ScaleOp::Checkout) {
            ScaleOp::Checkout.load(&args).requests * args.rounds + warm_up(&args).requests
        } else {
            0
        };
        let started = Instant::now();
        let mut seeded_side = Side::seeded(client(seeded.0), &args, carts)
            .await
            .context("preparing the seeded side (is it seeded? `olympus bench seed`)")?;
        (seeded_side.metrics, seeded_side.pid) = (Some(seeded.1), seeded.2);
        let seeded = seeded_side;
        let mut empty_side = Side::empty(client(empty.0), &args, run_id, carts)
            .await
            .context("preparing the empty side")?;
        (empty_side.metrics, empty_side.pid) = (Some(empty.1), empty.2);
        let empty = empty_side;
        println!(
            "both sides ready in {:.1}s: seeded {} (members page {} for page {DEEP_PAGE}), empty \
             {}; {} requests per operation, side and round (writes a third, logins a \
             thirtieth), from {} callers, {} rounds",
            started.elapsed().as_secs_f64(),
            seeded.slug,
            seeded.deep_page,
            empty.slug,
            args.requests,
            args.concurrency,
            args.rounds,
        );
        measure(&args, &ops, (&empty, &empty_url), &seeded).await
    }
    .await;
    servers.stop(result.is_err()).await;
    let dropped = drop_database(&args.database_url, &empty_url).await;
    result?;
    dropped
}

/// Every operation on both sides, then the report and the floors.
async fn measure(
    args: &ScaleArgs,
    ops: &[ScaleOp],
    (empty, empty_url): (&Side, &str),
    seeded: &Side,
) -> anyhow::Result<()> {
    // What autovacuum does, at the points it would have by then: the empty
    // database's statistics (the seeder analyzed the seeded one; without
    // them the empty side is planned as if its tables were as empty as
    // when they were made), after it is filled and after each write. Where
    // autovacuum is off (as on the machines Olympus is tested on), both
    // databases are vacuumed too: the rows writes update over and over (a
    // promotion's use count, a variant's stock, the refresh chains'
    // sessions) would otherwise keep every dead version, on the seeded
    // side from one run to the next, and reads walk them (a third run's
    // checkout: 0.10 of the empty side's).
    let autovacuum: String = {
        use sqlx::Connection;
        let mut conn = sqlx::PgConnection::connect(&args.database_url).await?;
        sqlx::query_scalar("SHOW autovacuum")
            .fetch_one(&mut conn)
            .await?
    };
    let vacuum = autovacuum == "off";
    if vacuum {
        println!("autovacuum is off: both databases are vacuumed where it would have run");
    }
    let analyze = async || -> anyhow::Result<()> {
        use sqlx::ConnectOptions;
        let tidy = if vacuum {
            "VACUUM (ANALYZE)"
        } else {
            "ANALYZE"
        };
        let urls = if vacuum {
            &[empty_url, args.database_url.as_str()][..]
        } else {
            &[empty_url][..]
        };
        for url in urls {
            // A vacuum takes seconds: not a slow statement to warn of.
            let mut conn = url
                .parse::<sqlx::postgres::PgConnectOptions>()?
                .disable_statement_logging()
                .connect()
                .await?;
            sqlx::query(tidy).execute(&mut conn).await?;
        }
        Ok(())
    };
    analyze().await.context("analyzing the databases")?;
    println!(
        "{:<26} {:>27} {:>27} {:>8}",
        "operation", "empty: /s p50 p99 (ms)", "seeded: /s p50 p99 (ms)", "seeded/empty"
    );
    let mut refresh_seeded = None;
    for &op in ops {
        for side in [empty, seeded] {
            side.run(op, warm_up(args)).await.with_context(|| {
                format!("{} on the {} side (warming up)", op.label(), side.name)
            })?;
        }
        let mut runs = [Runs::default(), Runs::default()];
        for round in 0..args.rounds {
            let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
            for which in order {
                let side = [empty, seeded][which];
                let cpu = crate::cpu::Snapshot::take(side.pid);
                let mut run = side
                    .run(op, op.load(args))
                    .await
                    .with_context(|| format!("{} on the {} side", op.label(), side.name))?;
                run.cpu = cpu.spent(side.pid);
                runs[which].add(run);
            }
        }
        let [empty_runs, seeded_runs] = runs;
        let (e, s) = (empty_runs.figures(), seeded_runs.figures());
        let ratio = if op == ScaleOp::Login {
            e.net_p50 / s.net_p50
        } else {
            s.per_second / e.per_second
        };
        println!(
            "{:<26} {:>27} {:>27} {:>8.2}{}",
            op.label(),
            e.summary(op),
            s.summary(op),
            ratio,
            if ratio < 0.9 { "  < 0.9" } else { "" }
        );
        println!("    {}", cpu_growth(&e, &s));
        for (side, figures) in [("empty", &e), ("seeded", &s)] {
            if figures.unexpected > 0 {
                println!(
                    "    {side}: {} replies were not what was asked for",
                    figures.unexpected
                );
            }
        }
        if op == ScaleOp::Refresh {
            refresh_seeded = Some(s.per_second);
        }
        if matches!(
            op,
            ScaleOp::Refresh | ScaleOp::Login | ScaleOp::OrdersCreate | ScaleOp::Checkout
        ) {
            analyze().await.context("analyzing the databases")?;
        }
    }
    println!("floors (same run, {} callers):", args.concurrency);
    let load = Load {
        requests: args.requests,
        concurrency: args.concurrency,
    };
    let (elapsed, samples) =
        crate::floors::nats_echo(load, &args.nats_url, &empty.client.nats).await?;
    crate::run::report_throughput("bare NATS echo", samples, Some(elapsed));
    match crate::floors::postgres_point_select(load, &args.database_url, 16).await {
        Ok((elapsed, samples)) => {
            let select = crate::run::report_throughput(
                "Postgres point select (pool of 16, seeded database)",
                samples,
                Some(elapsed),
            );
            if let Some(refresh) = refresh_seeded {
                println!(
                    "  auth.refresh (seeded) / Postgres point select: {:.2}",
                    refresh / select
                );
            }
        }
        Err(err) => println!("  Postgres point select: not measured ({err:#})"),
    }
    match crate::floors::postgres_committed_update(load, &args.database_url, 16).await {
        Ok((elapsed, samples)) => {
            let update = crate::run::report_throughput(
                "Postgres one-row update, committed (pool of 16, seeded database)",
                samples,
                Some(elapsed),
            );
            if let Some(refresh) = refresh_seeded {
                println!(
                    "  auth.refresh (seeded) / Postgres one-row update: {:.2}",
                    refresh / update
                );
            }
        }
        Err(err) => println!("  Postgres one-row update: not measured ({err:#})"),
    }
    let verify = crate::floors::argon2_verify(args.argon2_params).await?;
    println!(
        "  Argon2id verify ({}): {:.1} ms alone",
        args.argon2_params,
        verify.as_secs_f64() * 1e3
    );
    Ok(())
}

/// The CPU per request of each process group, empty against seeded: which
/// one's cost grew with the data.
fn cpu_growth(empty: &Figures, seeded: &Figures) -> String {
    let per_request = |time: Option<Duration>, figures: &Figures| {
        time.map(|time| time.as_secs_f64() * 1e6 / figures.requests.max(1) as f64)
    };
    let groups = [
        ("server", empty.cpu.server, seeded.cpu.server),
        ("Postgres", empty.cpu.postgres, seeded.cpu.postgres),
        ("nats-server", empty.cpu.nats, seeded.cpu.nats),
    ];
    let parts: Vec<String> = groups
        .into_iter()
        .map(
            |(what, e, s)| match (per_request(e, empty), per_request(s, seeded)) {
                (Some(e), Some(s)) if e > 0.0 => {
                    format!("{what} {e:.0} -> {s:.0} us ({:.2})", s / e)
                }
                (Some(e), Some(s)) => format!("{what} {e:.0} -> {s:.0} us"),
                _ => format!("{what}: not measured"),
            },
        )
        .collect();
    format!(
        "CPU per request, empty -> seeded (user + system, 10 ms ticks): {}",
        parts.join(", ")
    )
}

/// One run of an operation on one side.
struct Run {
    elapsed: Duration,
    samples: Vec<Sample>,
    /// For logins: the mean time each waited for its password
    /// verification, as the side's server counted it.
    hashing: Option<Duration>,
    /// The CPU its server, Postgres and nats-server spent on it.
    cpu: Spent,
}

/// A side's runs of one operation.
#[derive(Default)]
struct Runs {
    elapsed: Duration,
    samples: Vec<Sample>,
    net: Vec<f64>,
    cpu: Spent,
}

impl Runs {
    fn add(&mut self, run: Run) {
        self.elapsed += run.elapsed;
        if let Some(hashing) = run.hashing {
            let total: f64 = run.samples.iter().map(|s| s.0.as_secs_f64()).sum();
            let mean = total / run.samples.len().max(1) as f64;
            self.net.push(mean - hashing.as_secs_f64());
        }
        self.samples.extend(run.samples);
        self.cpu += run.cpu;
    }

    fn figures(mut self) -> Figures {
        self.samples.sort_unstable_by_key(|(d, _)| *d);
        let ms = |q: f64| {
            let i = ((self.samples.len() as f64 * q).ceil() as usize).clamp(1, self.samples.len());
            self.samples[i - 1].0.as_secs_f64() * 1e3
        };
        self.net.sort_by(f64::total_cmp);
        Figures {
            per_second: self.samples.len() as f64 / self.elapsed.as_secs_f64(),
            p50: ms(0.50),
            p99: ms(0.99),
            net_p50: self
                .net
                .get(self.net.len() / 2)
                .map_or(f64::NAN, |s| s * 1e3),
            unexpected: self.samples.iter().filter(|(_, ok)| !ok).count(),
            cpu: self.cpu,
            requests: self.samples.len(),
        }
    }
}

/// A side's figures of one operation.
struct Figures {
    per_second: f64,
    p50: f64,
    p99: f64,
    /// Logins: the median of the rounds' mean latency less the mean time
    /// each waited for its password verification, in ms.
    net_p50: f64,
    unexpected: usize,
    /// The CPU spent on all `requests`.
    cpu: Spent,
    requests: usize,
}

impl Figures {
    fn summary(&self, op: ScaleOp) -> String {
        if op == ScaleOp::Login {
            format!(
                "{:.0}/s {:.2} (less Argon2 {:.2})",
                self.per_second, self.p50, self.net_p50
            )
        } else {
            format!("{:.0}/s {:.2} {:.2}", self.per_second, self.p50, self.p99)
        }
    }
}

/// One side: its workers, its tenant and what each operation needs.
struct Side {
    name: &'static str,
    client: Client,
    slug: String,
    admin: String,
    member: String,
    /// Whom logins take turns with.
    logins: Vec<LoginRequest>,
    /// The member's refresh chains, one per caller.
    chains: Arc<Chains>,
    /// Three products' first variants: orders buy the first, carts all.
    variants: Vec<Uuid>,
    /// The cursor of members page 500 (none on the empty side), and its
    /// number (the last page's, when there are fewer).
    deep_cursor: Option<String>,
    deep_page: usize,
    /// The day `AuditRange` asks for.
    day: (DateTime<Utc>, DateTime<Utc>),
    /// Carts ready for checkout.
    carts: Arc<Mutex<Vec<Uuid>>>,
    /// Its server's `/metrics`.
    metrics: Option<std::net::SocketAddr>,
    /// Its server's process, for the CPU it spends.
    pid: Option<u32>,
}

impl Side {
    /// `seed-0` of the seeded database.
    async fn seeded(client: Client, args: &ScaleArgs, carts: usize) -> anyhow::Result<Self> {
        let login = |email: &str| LoginRequest {
            tenant: SEEDED_TENANT.into(),
            email: email.into(),
            password: Secret::new(crate::seed::PASSWORD),
        };
        let admin: SessionReply = client
            .call(operation::AUTH_LOGIN, None, &login(SEEDED_ADMIN))
            .await
            .context("logging in as the seeded admin")?;
        let admin = admin.tokens.access_token.expose().to_owned();
        let member_login = login(SEEDED_MEMBER);
        let member: SessionReply = client
            .call(operation::AUTH_LOGIN, None, &member_login)
            .await
            .context("logging in as a seeded member")?;
        let logins = (0..LOGIN_USERS)
            .map(|i| login(&format!("user{}@seed-0.example", 10 + i)))
            .collect();
        // Page 500 of the members (or the last, below scale 0.1), walked
        // to once.
        let (mut cursor, mut deep_page) = (None, 1);
        while deep_page < DEEP_PAGE {
            let members: Page<User> = client
                .call(
                    operation::TENANT_MEMBERS_LIST,
                    Some(&admin),
                    &PageRequest {
                        limit: None,
                        cursor: cursor.clone(),
                    },
                )
                .await?;
            let Some(next) = members.next_cursor else {
                break;
            };
            cursor = Some(next);
            deep_page += 1;
        }
        let products: Page<Product> = client
            .call(
                operation::COMMERCE_PRODUCTS_LIST,
                Some(&admin),
                &ListProductsRequest {
                    limit: Some(3),
                    cursor: None,
                    status: None,
                    q: None,
                },
            )
            .await?;
        let variants: Vec<Uuid> = products.items.iter().map(|p| p.id).collect();
        if variants.len() < 3 {
            bail!("{SEEDED_TENANT} has fewer than 3 products");
        }
        let now = Utc::now();
        let mut side = Self {
            name: "seeded",
            client,
            slug: SEEDED_TENANT.into(),
            member: member.tokens.access_token.expose().to_owned(),
            admin,
            logins,
            chains: Arc::default(),
            variants,
            deep_cursor: cursor,
            deep_page,
            day: (now - TimeDelta::days(100), now - TimeDelta::days(99)),
            carts: Arc::default(),
            metrics: None,
            pid: None,
        };
        side.prepare(args, &member_login, carts).await?;
        Ok(side)
    }

    /// A new tenant of the empty database, with a few of everything.
    async fn empty(
        client: Client,
        args: &ScaleArgs,
        run_id: &str,
        carts: usize,
    ) -> anyhow::Result<Self> {
        let slug = format!("scale-{run_id}");
        let email = |local: &str| format!("{local}@{slug}.example.com");
        let signup: CreateTenantReply = client
            .call(
                operation::TENANT_CREATE,
                None,
                &CreateTenantRequest {
                    slug: slug.clone(),
                    name: "Scale bench".into(),
                    owner: NewOwner {
                        email: email("owner"),
                        password: Secret::new(PASSWORD),
                        display_name: None,
                    },
                },
            )
            .await?;
        let admin = signup.tokens.access_token.expose().to_owned();
        let _: TenantReply = client
            .call(
                operation::TENANT_UPDATE,
                Some(&admin),
                &UpdateTenantRequest {
                    self_registration: Some(true),
                    ..UpdateTenantRequest::default()
                },
            )
            .await?;
        let login = |local: &str| LoginRequest {
            tenant: slug.clone(),
            email: email(local),
            password: Secret::new(PASSWORD),
        };
        let mut registered = Vec::new();
        for local in ["member".to_owned()]
            .into_iter()
            .chain((0..FULL_PAGE).map(|i| format!("caller{i}")))
        {
            let session: SessionReply = client
                .call(
                    operation::AUTH_REGISTER,
                    None,
                    &RegisterRequest {
                        tenant: slug.clone(),
                        email: email(&local),
                        password: Secret::new(PASSWORD),
                        // Named as the seeder names its users.
                        display_name: Some(format!("{local} of {slug}")),
                    },
                )
                .await
                .with_context(|| format!("registering {local}"))?;
            registered.push(session);
        }
        let member = registered[0].tokens.access_token.expose().to_owned();
        // The seeded names, a word and a number, as many as make a full
        // page of lamps; and the one rare name.
        let mut variants = Vec::new();
        let words = crate::seed::WORDS;
        let names = (0..words.len() * FULL_PAGE)
            .map(|p| format!("{} {p}", words[p % words.len()]))
            .chain(["Rug 49999".to_owned()]);
        for (p, name) in names.enumerate() {
            let product: ProductReply = client
                .call(
                    operation::COMMERCE_PRODUCTS_CREATE,
                    Some(&admin),
                    &CreateProductRequest {
                        sku: format!("SKU-{p}"),
                        name,
                        description: Some(format!("Bench product {p}")),
                        price: Money {
                            amount: 100 + p as i64 * 37,
                            currency: "EUR".into(),
                        },
                        stock: Some(1_000_000_000),
                    },
                )
                .await?;
            variants.push(product.product.id);
        }
        // Orders of the member's, of one to three lines as the seeder's
        // (a page of them weighs the same on both sides), and logouts:
        // `AuditType`'s events.
        for i in 0..FULL_PAGE {
            let _: OrderReply = client
                .call(
                    operation::COMMERCE_ORDERS_CREATE,
                    Some(&member),
                    &order(&variants[..1 + i % 3]),
                )
                .await?;
        }
        for session in &registered[1..] {
            let _: Empty = client
                .call(
                    operation::AUTH_LOGOUT,
                    None,
                    &LogoutRequest {
                        refresh_token: session.tokens.refresh_token.clone(),
                    },
                )
                .await?;
        }
        let now = Utc::now();
        let mut side = Self {
            name: "empty",
            client,
            slug: slug.clone(),
            admin,
            member,
            logins: (0..LOGIN_USERS)
                .map(|i| login(&format!("caller{i}")))
                .collect(),
            chains: Arc::default(),
            variants: variants[..3].to_vec(),
            deep_cursor: None,
            deep_page: 1,
            day: (now - TimeDelta::days(1), now + TimeDelta::hours(1)),
            carts: Arc::default(),
            metrics: None,
            pid: None,
        };
        side.prepare(args, &login("member"), carts).await?;
        Ok(side)
    }

    /// What both sides make the same way: the member's refresh chains,
    /// the promotion and the carts.
    async fn prepare(
        &mut self,
        args: &ScaleArgs,
        member: &LoginRequest,
        carts: usize,
    ) -> anyhow::Result<()> {
        let mut chains = Vec::with_capacity(args.concurrency);
        for _ in 0..args.concurrency {
            let session: SessionReply = self
                .client
                .call(operation::AUTH_LOGIN, None, member)
                .await
                .context("logging in to start a refresh chain")?;
            chains.push(session.tokens.refresh_token);
        }
        self.chains = Arc::new(Chains::new(chains));
        if carts > 0 {
            let code = format!("SCALE-{}", &Uuid::now_v7().simple().to_string()[20..]);
            let _: PromotionReply = self
                .client
                .call(
                    operation::COMMERCE_PROMOTIONS_CREATE,
                    Some(&self.admin),
                    &crate::checkout::ten_percent_off(&code),
                )
                .await
                .context("creating the promotion")?;
            let made = crate::checkout::carts(
                &self.client,
                args.concurrency,
                &self.member,
                &self.variants,
                &code,
                carts,
            )
            .await
            .context("making the carts")?;
            self.carts = Arc::new(Mutex::new(made));
        }
        Ok(())
    }

    /// What its server counted so far of the time requests waited for
    /// password hashing (its queue and Argon2): seconds, and how many
    /// waits (`/metrics`).
    async fn hashing_so_far(&self) -> anyhow::Result<(f64, u64)> {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let addr = self.metrics.context("no metrics address")?;
        let mut stream = tokio::net::TcpStream::connect(addr)
            .await
            .with_context(|| format!("reading {addr}/metrics"))?;
        stream
            .write_all(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .await?;
        let mut body = String::new();
        stream.read_to_string(&mut body).await?;
        let value = |name: &str| {
            body.lines()
                .find_map(|line| {
                    line.strip_prefix(name)?
                        .strip_prefix(' ')?
                        .parse::<f64>()
                        .ok()
                })
                .with_context(|| format!("no {name} in {addr}/metrics"))
        };
        Ok((
            value("olympus_password_hashing_seconds_total")?,
            value("olympus_password_hashings_total")? as u64,
        ))
    }

    /// One run of `op`, of `load` (logins: one caller at a time).
    async fn run(&self, op: ScaleOp, load: Load) -> anyhow::Result<Run> {
        let (admin, member) = (Some(self.admin.as_str()), Some(self.member.as_str()));
        let (elapsed, samples) = match op {
            ScaleOp::Me => {
                self.same(load, operation::AUTH_ME, member, &Empty {})
                    .await?
            }
            ScaleOp::TenantGet => {
                self.same(load, operation::TENANT_GET, member, &Empty {})
                    .await?
            }
            ScaleOp::Refresh => self.refreshes(load).await?,
            ScaleOp::Login => {
                let before = self.hashing_so_far().await?;
                let load = Load {
                    requests: load.requests,
                    concurrency: 1,
                };
                let requests = self
                    .logins
                    .iter()
                    .map(|login| {
                        Request::new(
                            operation::AUTH_LOGIN,
                            None,
                            login,
                            ContentType::MsgPack,
                            true,
                        )
                    })
                    .collect::<anyhow::Result<Vec<_>>>()?;
                let (elapsed, samples) = self.rotating(load, requests).await?;
                let after = self.hashing_so_far().await?;
                let waits = after.1.saturating_sub(before.1).max(1);
                let hashing =
                    Duration::from_secs_f64((after.0 - before.0).max(0.0)).div_f64(waits as f64);
                return Ok(Run {
                    elapsed,
                    samples,
                    hashing: Some(hashing),
                    cpu: Spent::default(),
                });
            }
            ScaleOp::OrdersCreate => {
                self.same(
                    load,
                    operation::COMMERCE_ORDERS_CREATE,
                    member,
                    &order(&self.variants[..1]),
                )
                .await?
            }
            ScaleOp::OrdersListMember | ScaleOp::OrdersListAdmin => {
                let token = if op == ScaleOp::OrdersListMember {
                    member
                } else {
                    admin
                };
                let request = ListOrdersRequest {
                    limit: None,
                    cursor: None,
                    status: None,
                };
                self.same(load, operation::COMMERCE_ORDERS_LIST, token, &request)
                    .await?
            }
            ScaleOp::Members | ScaleOp::MembersPage500 => {
                let cursor = if op == ScaleOp::MembersPage500 {
                    self.deep_cursor.clone()
                } else {
                    None
                };
                let request = PageRequest {
                    limit: None,
                    cursor,
                };
                self.same(load, operation::TENANT_MEMBERS_LIST, admin, &request)
                    .await?
            }
            ScaleOp::ProductsSearch | ScaleOp::ProductsSearchRare => {
                let q = if op == ScaleOp::ProductsSearch {
                    "lamp"
                } else {
                    "rug 49999"
                };
                let request = ListProductsRequest {
                    limit: None,
                    cursor: None,
                    status: None,
                    q: Some(q.into()),
                };
                self.same(load, operation::COMMERCE_PRODUCTS_LIST, member, &request)
                    .await?
            }
            ScaleOp::AuditType | ScaleOp::AuditRange => {
                let mut request = AuditListRequest {
                    limit: None,
                    cursor: None,
                    event_type: None,
                    actor_id: None,
                    since: None,
                    until: None,
                };
                if op == ScaleOp::AuditType {
                    request.event_type = Some(EventType::UserLoggedOut);
                } else {
                    (request.since, request.until) = (Some(self.day.0), Some(self.day.1));
                }
                self.same(load, operation::TENANT_AUDIT_LIST, admin, &request)
                    .await?
            }
            ScaleOp::Checkout => self.checkouts(load).await?,
        };
        Ok(Run {
            elapsed,
            samples,
            hashing: None,
            cpu: Spent::default(),
        })
    }

    /// `load` of the same request.
    async fn same<T: Serialize>(
        &self,
        load: Load,
        op: Operation,
        token: Option<&str>,
        body: &T,
    ) -> anyhow::Result<(Duration, Vec<Sample>)> {
        let request = Request::new(op, token, body, ContentType::MsgPack, true)?;
        self.rotating(load, vec![request]).await
    }

    /// `load` of `requests`, caller `i` sending the `i`-th in turn.
    async fn rotating(
        &self,
        load: Load,
        requests: Vec<Request>,
    ) -> anyhow::Result<(Duration, Vec<Sample>)> {
        let requests = Arc::new(requests);
        let sent = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let client = self.client.clone();
        run_callers(load, move |_| {
            let client = client.clone();
            let requests = Arc::clone(&requests);
            let i = sent.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            async move { client.send(&requests[i % requests.len()]).await }
        })
        .await
    }

    /// `load` of refreshes along the member's chains.
    async fn refreshes(&self, load: Load) -> anyhow::Result<(Duration, Vec<Sample>)> {
        let client = self.client.clone();
        let chains = Arc::clone(&self.chains);
        run_callers(load, move |_| {
            let client = client.clone();
            let chains = Arc::clone(&chains);
            async move { chains.refresh(&client).await }
        })
        .await
    }

    /// `load` of checkouts of the carts made before.
    async fn checkouts(&self, load: Load) -> anyhow::Result<(Duration, Vec<Sample>)> {
        let client = self.client.clone();
        let carts = Arc::clone(&self.carts);
        let member = self.member.clone();
        run_callers(load, move |_| {
            let client = client.clone();
            let carts = Arc::clone(&carts);
            let member = member.clone();
            async move {
                let cart_id = crate::checkout::take(&carts)?;
                let request = Request::new(
                    operation::COMMERCE_CARTS_CHECKOUT,
                    Some(&member),
                    &CheckoutRequest {
                        cart_id,
                        payment_method: None,
                    },
                    ContentType::MsgPack,
                    true,
                )?;
                client.send(&request).await
            }
        })
        .await
    }
}

/// An order of one unit of each of `variants`.
fn order(variants: &[Uuid]) -> CreateOrderRequest {
    CreateOrderRequest {
        items: variants
            .iter()
            .map(|&variant| OrderItemRequest {
                variant_id: Some(variant),
                product_id: None,
                quantity: 1,
            })
            .collect(),
        shipping_address: None,
        billing_address: None,
        contact_phone: None,
    }
}

/// `database_url` with its database named `name` instead.
fn database_beside(database_url: &str, name: &str) -> anyhow::Result<String> {
    let (base, query) = match database_url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (database_url, None),
    };
    let Some((server, _)) = base.rsplit_once('/').filter(|(s, _)| s.contains("://")) else {
        bail!("DATABASE_URL names no database");
    };
    Ok(match query {
        Some(query) => format!("{server}/{name}?{query}"),
        None => format!("{server}/{name}"),
    })
}

/// Drops the empty database the run made.
async fn drop_database(owner_url: &str, empty_url: &str) -> anyhow::Result<()> {
    use sqlx::Connection;
    let name = empty_url
        .split('?')
        .next()
        .and_then(|base| base.rsplit('/').next())
        .unwrap_or_default();
    let mut conn = sqlx::PgConnection::connect(owner_url)
        .await
        .context("connecting to drop the empty database")?;
    sqlx::query(&format!(r#"DROP DATABASE IF EXISTS "{name}" WITH (FORCE)"#))
        .execute(&mut conn)
        .await
        .with_context(|| format!("dropping the empty database {name}"))?;
    Ok(())
}

/// The `olympus serve` processes of the run.
struct Servers {
    nats: async_nats::Client,
    running: Vec<(tokio::process::Child, Subjects, PathBuf)>,
}

impl Servers {
    /// Starts `olympus serve --migrate` of this binary on `database_url`
    /// and `prefix`, its log in a file of the temporary directory; its
    /// subjects once all three workers answer.
    async fn start(
        &mut self,
        args: &ScaleArgs,
        database_url: &str,
        prefix: &str,
    ) -> anyhow::Result<(Subjects, std::net::SocketAddr, Option<u32>)> {
        let subjects = Subjects::new(prefix)?;
        // A port free now, for its `/metrics`.
        let metrics = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?;
        let log = std::env::temp_dir().join(format!("olympus-bench-{prefix}.log"));
        let file =
            std::fs::File::create(&log).with_context(|| format!("creating {}", log.display()))?;
        let child = tokio::process::Command::new(std::env::current_exe()?)
            .args(["serve", "--migrate"])
            .env("DATABASE_URL", database_url)
            .env("OLYMPUS_SUBJECT_PREFIX", prefix)
            .env("NATS_URL", &args.nats_url)
            .env("OLYMPUS_METRICS_ADDR", metrics.to_string())
            .env_remove("OLYMPUS_APP_DATABASE_URL")
            .stdin(std::process::Stdio::null())
            .stdout(file.try_clone()?)
            .stderr(file)
            .kill_on_drop(true)
            .spawn()
            .context("starting olympus serve")?;
        let mut child = child;
        let ready = self.ready(&mut child, &subjects, &log).await;
        let pid = child.id();
        self.running.push((child, subjects.clone(), log));
        ready.map(|()| (subjects, metrics, pid))
    }

    /// Waits until `child`'s three workers answer on `subjects`.
    async fn ready(
        &self,
        child: &mut tokio::process::Child,
        subjects: &Subjects,
        log: &std::path::Path,
    ) -> anyhow::Result<()> {
        let prefix = subjects.prefix();
        let deadline = Instant::now() + Duration::from_secs(120);
        for op in [
            operation::AUTH_ME,
            operation::TENANT_GET,
            operation::COMMERCE_PRODUCTS_LIST,
        ] {
            let subject = subjects.endpoint(op.service, op.name);
            loop {
                // Any reply (here: unauthenticated) means the worker serves.
                if self
                    .nats
                    .request(subject.clone(), "{}".into())
                    .await
                    .is_ok()
                {
                    break;
                }
                if let Some(status) = child.try_wait()? {
                    bail!(
                        "olympus serve on {prefix} stopped ({status}); its log: {}",
                        log.display()
                    );
                }
                if Instant::now() > deadline {
                    bail!(
                        "olympus serve on {prefix} did not answer in 120 s; its log: {}",
                        log.display()
                    );
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
        Ok(())
    }

    /// Stops every server (SIGTERM, then SIGKILL after 10 s) and deletes
    /// its streams, and its log unless `keep_logs`.
    async fn stop(&mut self, keep_logs: bool) {
        let js = async_nats::jetstream::new(self.nats.clone());
        for (mut child, subjects, log) in self.running.drain(..) {
            if let Some(pid) = child.id() {
                let _ = std::process::Command::new("kill")
                    .args(["-TERM", &pid.to_string()])
                    .status();
            }
            if tokio::time::timeout(Duration::from_secs(10), child.wait())
                .await
                .is_err()
            {
                let _ = child.kill().await;
            }
            for stream in [subjects.events_stream(), subjects.mail_stream()] {
                let _ = js.delete_stream(&stream).await;
            }
            if keep_logs {
                eprintln!(
                    "the log of olympus serve on {}: {}",
                    subjects.prefix(),
                    log.display()
                );
            } else {
                let _ = std::fs::remove_file(log);
            }
        }
    }
}
