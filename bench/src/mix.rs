//! `olympus bench --mix`: a realistic blend of operations for a while, from
//! `--concurrency` callers that never stop at a failed request, so that an
//! operator can run it through a fault drill (a rolling restart, `kill -9`,
//! Postgres or NATS restarting) and read what the callers saw, and when.
//!
//! Each caller draws its next operation from [`BLEND`] with a PRNG of its
//! own seeded by its index (the same sequence on every run):
//!
//! - `auth.me` 60 % and `tenant.get` 15 %, with the caller's access token;
//! - `auth.refresh` 10 %, along the caller's own refresh-token chain: each
//!   reply's tokens are used next. A caller without a chain (at the start,
//!   or after a refresh failed: a coded error, or no reply, when the token
//!   may have been rotated and presenting it again would revoke the session
//!   as stolen) logs in first, counted as an `auth.login`;
//! - `auth.login` 5 % (Argon2id), as the tenant's owner;
//! - `commerce.orders.create` 10 %: one unit of the run's product, with an
//!   `Idempotency-Key` of its own. When no reply comes (timeout, no
//!   responders, a client error) or the reply says "try again"
//!   (`unavailable`, `internal`, `rate_limited`, `idempotency_key_in_use`),
//!   the caller sends the same request with the same key again, pausing
//!   100 ms to 2 s between attempts, for up to [`ORDER_RETRY_WINDOW`]. At
//!   the end the product's stock taken is compared with the orders
//!   acknowledged: equal when nothing was done twice.
//!
//! Every request is classified as `ok`, its error code (from the error
//! reply's body; `status_<n>` when the body does not decode), `timeout`,
//! `no_responders` or `transport` (any other client error). The report
//! (see [`print_report`]) has a line per operation and a total, a timeline
//! line per second and the orders' outcome.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use async_nats::RequestErrorKind;
use futures::TryStreamExt;
use olympus_contracts::auth::{LoginRequest, RefreshReply, RefreshRequest, SessionReply};
use olympus_contracts::commerce::{
    CreateOrderRequest, CreateProductRequest, IdRequest, Money, OrderItemRequest, ProductReply,
};
use olympus_contracts::error::ErrorBody;
use olympus_contracts::operation::{self, Operation};
use olympus_contracts::shapes::Empty;
use olympus_contracts::{headers, ContentType, Secret};

use crate::run::{percentiles, Client, Request};

/// The operations of the mix, in the report's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Me,
    TenantGet,
    Refresh,
    Login,
    OrdersCreate,
}

impl Op {
    const ALL: [Op; 5] = [
        Op::Me,
        Op::TenantGet,
        Op::Refresh,
        Op::Login,
        Op::OrdersCreate,
    ];

    /// Its place in [`Op::ALL`] and in [`Tally::ops`].
    fn index(self) -> usize {
        self as usize
    }

    fn operation(self) -> Operation {
        match self {
            Op::Me => operation::AUTH_ME,
            Op::TenantGet => operation::TENANT_GET,
            Op::Refresh => operation::AUTH_REFRESH,
            Op::Login => operation::AUTH_LOGIN,
            Op::OrdersCreate => operation::COMMERCE_ORDERS_CREATE,
        }
    }

    /// `auth.me`, `commerce.orders.create`: the name in the report.
    fn name(self) -> String {
        let op = self.operation();
        format!("{}.{}", op.service.as_str(), op.name)
    }
}

/// Each operation's share of the requests a caller picks, in percent.
const BLEND: [(Op, u64); 5] = [
    (Op::Me, 60),
    (Op::TenantGet, 15),
    (Op::Refresh, 10),
    (Op::Login, 5),
    (Op::OrdersCreate, 10),
];

/// How long a caller keeps retrying one order with its key.
const ORDER_RETRY_WINDOW: Duration = Duration::from_secs(60);

/// Stock of the run's product: more than any run can order.
const STOCK: i64 = 1_000_000_000;

/// `--duration` and `--timeout`: `30s`, `2m`, `1h`, `500ms`, `1m30s`, or a
/// plain number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if let Ok(secs) = text.parse::<u64>() {
        return Ok(Duration::from_secs(secs));
    }
    let invalid = || format!("{text:?} is not a duration like 30s, 2m, 1h, 500ms or 90");
    let mut total = Duration::ZERO;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let number: u64 = rest[..digits].parse().map_err(|_| invalid())?;
        rest = &rest[digits..];
        let unit = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let part = match &rest[..unit] {
            "ms" => Duration::from_millis(number),
            "s" => Duration::from_secs(number),
            "m" => Duration::from_secs(number.saturating_mul(60)),
            "h" => Duration::from_secs(number.saturating_mul(3600)),
            _ => return Err(invalid()),
        };
        total = total.saturating_add(part);
        rest = &rest[unit..];
    }
    if text.is_empty() {
        return Err(invalid());
    }
    Ok(total)
}

/// What the mix needs from `olympus bench`.
pub struct Mix {
    pub concurrency: usize,
    pub duration: Duration,
    pub timeout: Duration,
    /// The owner's login, and the access token of their signup.
    pub login: LoginRequest,
    pub token: String,
    /// The run's tenant, whose `order.placed` events are counted.
    pub tenant_id: uuid::Uuid,
    /// Shell commands run during the mix (`olympus drill`): when, and what.
    pub faults: Vec<Fault>,
}

/// A shell command a drill runs at a moment of the mix.
#[derive(Debug, Clone)]
pub struct Fault {
    /// `fault` or `recovery`, for the report.
    pub what: &'static str,
    pub at: Duration,
    pub command: String,
}

/// A fault command's run: when it started and ended, and how.
#[derive(Debug)]
struct FaultRun {
    what: &'static str,
    command: String,
    started: Duration,
    took: Duration,
    status: String,
}

/// Runs `faults` at their moments from `started`, one after another.
async fn run_faults(faults: Vec<Fault>, started: Instant) -> Vec<FaultRun> {
    let mut runs = Vec::new();
    for fault in faults {
        tokio::time::sleep_until((started + fault.at).into()).await;
        let at = started.elapsed();
        let output = tokio::process::Command::new("sh")
            .args(["-c", &fault.command])
            .stdin(std::process::Stdio::null())
            .output()
            .await;
        let status = match output {
            Ok(output) if output.status.success() => "ok".to_owned(),
            Ok(output) => format!(
                "failed ({}): {}",
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            ),
            Err(err) => format!("could not run: {err}"),
        };
        runs.push(FaultRun {
            what: fault.what,
            command: fault.command,
            started: at,
            took: started.elapsed() - at,
            status,
        });
    }
    runs
}

/// Creates the run's product, runs the mix and prints its report; returns
/// the throughput of `auth.me` within it (for the floors' ratios).
pub async fn run(client: &Client, mix: Mix) -> anyhow::Result<f64> {
    let product: ProductReply = client
        .call(
            operation::COMMERCE_PRODUCTS_CREATE,
            Some(&mix.token),
            &CreateProductRequest {
                sku: "BENCH-MIX-1".into(),
                name: "Bench mix product".into(),
                description: None,
                price: Money {
                    amount: 1999,
                    currency: "EUR".into(),
                },
                stock: Some(STOCK),
            },
        )
        .await
        .context("creating the mix's product")?;
    let product_id = product.product.id;
    let run = uuid::Uuid::now_v7().simple().to_string();
    let login = Request::new(
        Op::Login.operation(),
        None,
        &mix.login,
        client.content_type,
        true,
    )?;
    let mix = Arc::new(mix);
    let started = Instant::now();
    let deadline = started + mix.duration;
    let callers: Vec<_> = (0..mix.concurrency)
        .map(|index| {
            let caller = Caller {
                client: client.clone(),
                mix: Arc::clone(&mix),
                started,
                key_prefix: format!("mix-{}-{index}", &run[16..]),
                product_id,
                access: mix.token.clone(),
                chain: None,
                login: login.clone(),
                rng: XorShift::new(index),
                tally: Tally::default(),
            };
            tokio::spawn(caller.run(deadline))
        })
        .collect();
    let faults = tokio::spawn(run_faults(mix.faults.clone(), started));
    let mut tally = Tally::default();
    for caller in callers {
        tally.merge(caller.await.context("a mix caller panicked")??);
    }
    let elapsed = started.elapsed();
    let faults = faults.await.context("the fault commands panicked")?;
    let stock_taken = stock_taken(client, &mix, product_id).await;
    print_report(client, &mix, &tally, elapsed, stock_taken.as_ref().ok());
    if let Err(err) = &stock_taken {
        println!("  the product's stock could not be read: {err:#}");
    }
    if !mix.faults.is_empty() {
        print_drill(&tally, &faults);
        if let Ok(made) = &stock_taken {
            order_events(client, &mix, *made).await?;
        }
    }
    let orders = &tally.orders;
    if let Ok(taken) = stock_taken {
        if taken < orders.acknowledged || taken > orders.acknowledged + orders.abandoned {
            bail!(
                "stock taken ({taken}) does not match the orders acknowledged ({}, and {} \
                 abandoned): an order was made twice or an acknowledged one is missing",
                orders.acknowledged,
                orders.abandoned,
            );
        }
    }
    Ok(tally.ops[Op::Me.index()].count() as f64 / elapsed.as_secs_f64())
}

/// Units of the run's product ordered so far, read as the owner after a
/// fresh login (the signup's access token may have expired by now).
async fn stock_taken(client: &Client, mix: &Mix, product_id: uuid::Uuid) -> anyhow::Result<u64> {
    let session: SessionReply = client.call(operation::AUTH_LOGIN, None, &mix.login).await?;
    let product: ProductReply = client
        .call(
            operation::COMMERCE_PRODUCTS_GET,
            Some(session.tokens.access_token.expose()),
            &IdRequest { id: product_id },
        )
        .await?;
    Ok(u64::try_from(STOCK - product.product.stock)?)
}

/// The report. Its lines, each field `name=value` with no space inside a
/// value, so that scripts (and the end-to-end test) can parse them:
///
/// ```text
/// mix: 5.00s from 16 callers (5.01s wall), Msgpack, timeout 5s; blend auth.me 60%, ...
///   auth.me: n=812 ok=812 errors={} 162/s p50=… p90=… p99=… p999=… max=…
///   ...
///   total: n=1350 ok=1347 errors={timeout=3} 269/s p50=… …
/// timeline (by the second each request was sent):
///   t=0s n=270 ok=270 errors={}
///   t=1s n=12 ok=9 errors={timeout=3}
///   ...
/// orders: acknowledged=135 idempotent_retries=4 recovered=2 refused=0 abandoned=0 stock_taken=135
/// refresh chains: started=16 dropped=1
/// ```
fn print_report(
    client: &Client,
    mix: &Mix,
    tally: &Tally,
    elapsed: Duration,
    stock_taken: Option<&u64>,
) {
    let blend = BLEND
        .iter()
        .map(|(op, share)| format!("{} {share}%", op.name()))
        .collect::<Vec<_>>()
        .join(", ");
    println!(
        "mix: {:.2}s from {} callers ({:.2}s wall), {:?}, timeout {}ms; blend {blend}",
        mix.duration.as_secs_f64(),
        mix.concurrency,
        elapsed.as_secs_f64(),
        client.content_type,
        mix.timeout.as_millis(),
    );
    let mut total = OpTally::default();
    for (op, op_tally) in Op::ALL.iter().zip(&tally.ops) {
        op_tally.print(&op.name(), elapsed);
        total.merge(op_tally.clone());
    }
    total.print("total", elapsed);
    println!("timeline (by the second each request was sent):");
    for (second, counts) in tally.seconds.iter().enumerate() {
        println!(
            "  t={second}s n={} ok={} errors={}",
            counts.requests,
            counts.ok,
            braces(&counts.errors)
        );
    }
    let orders = &tally.orders;
    println!(
        "orders: acknowledged={} idempotent_retries={} recovered={} refused={} abandoned={} \
         stock_taken={}",
        orders.acknowledged,
        orders.idempotent_retries,
        orders.recovered,
        orders.refused,
        orders.abandoned,
        stock_taken.map_or_else(|| "unknown".to_owned(), u64::to_string),
    );
    println!(
        "refresh chains: started={} dropped={}",
        tally.chains_started, tally.chains_dropped
    );
}

/// What a drill adds to the report: when each command ran, and when
/// callers saw failures relative to the fault.
///
/// ```text
/// fault: t=5.00s took=0.01s ok: systemctl kill -s KILL nats-server@2
/// recovery: t=10.00s took=0.02s ok: systemctl start nats-server@2
/// failures: 12 (no_responders=8,timeout=4), from t=5s to t=6s; none from 2s after the fault on
/// ```
fn print_drill(tally: &Tally, faults: &[FaultRun]) {
    for run in faults {
        println!(
            "{}: t={:.2}s took={:.2}s {}: {}",
            run.what,
            run.started.as_secs_f64(),
            run.took.as_secs_f64(),
            run.status,
            run.command
        );
    }
    let mut kinds = BTreeMap::new();
    let mut failed_seconds = Vec::new();
    for (second, counts) in tally.seconds.iter().enumerate() {
        let failed: u64 = counts.errors.values().sum();
        if failed > 0 {
            failed_seconds.push(second);
            add(&mut kinds, counts.errors.clone());
        }
    }
    let total: u64 = kinds.values().sum();
    let fault_second = faults.first().map(|f| f.started.as_secs());
    match (failed_seconds.first(), failed_seconds.last(), fault_second) {
        (Some(first), Some(last), Some(fault)) => println!(
            "failures: {total} {}, from t={first}s to t={last}s; none from {}s after the fault on",
            braces(&kinds),
            (*last as u64 + 1).saturating_sub(fault)
        ),
        _ => println!("failures: none"),
    }
}

/// Counts the run tenant's `order.placed` events in the events stream
/// against the orders the stock says were made: none lost, none doubled.
/// A user that may not read the stream gets a line saying so.
async fn order_events(client: &Client, mix: &Mix, made: u64) -> anyhow::Result<()> {
    let js = async_nats::jetstream::new(client.nats.clone());
    let subject = format!(
        "{}.events.{}.order.placed",
        client.subjects.prefix(),
        mix.tenant_id
    );
    let counted = async {
        let stream = js.get_stream(client.subjects.events_stream()).await?;
        // The relay publishes within moments; give it a few seconds.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let info = stream
                .info_with_subjects(subject.clone())
                .await?
                .try_collect::<std::collections::HashMap<String, usize>>()
                .await?;
            let stored = info.get(&subject).copied().unwrap_or(0) as u64;
            if stored >= made || Instant::now() >= deadline {
                return anyhow::Ok(stored);
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    };
    match tokio::time::timeout(Duration::from_secs(15), counted).await {
        Ok(Ok(stored)) => {
            println!(
                "events: order.placed={stored} for {made} orders made: lost={} doubled={}",
                made.saturating_sub(stored),
                stored.saturating_sub(made)
            );
            if stored != made {
                bail!("{stored} order.placed events for {made} orders made");
            }
        }
        Ok(Err(err)) => println!("events: the events stream cannot be read here: {err:#}"),
        Err(_) => println!("events: the events stream did not answer within 15 s"),
    }
    Ok(())
}

/// `{timeout=3,unavailable=2}`, keys sorted.
fn braces(counts: &BTreeMap<String, u64>) -> String {
    let mut out = String::from("{");
    for (i, (kind, count)) in counts.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(out, "{kind}={count}");
    }
    out.push('}');
    out
}

/// How one request ended.
enum Outcome {
    /// A reply that is not an error; its payload.
    Ok(bytes::Bytes),
    /// An error reply's code (`unavailable`, `invalid_token`, ...).
    Code(String),
    Timeout,
    NoResponders,
    Transport,
}

impl Outcome {
    fn classify(
        reply: Result<async_nats::Message, async_nats::RequestError>,
        content_type: ContentType,
    ) -> Self {
        match reply {
            Ok(message) => match error_code(&message, content_type) {
                Some(code) => Outcome::Code(code),
                None => Outcome::Ok(message.payload),
            },
            Err(err) => match err.kind() {
                RequestErrorKind::TimedOut => Outcome::Timeout,
                RequestErrorKind::NoResponders => Outcome::NoResponders,
                _ => Outcome::Transport,
            },
        }
    }

    /// The key under which it is counted among the errors.
    fn kind(&self) -> Option<&str> {
        match self {
            Outcome::Ok(_) => None,
            Outcome::Code(code) => Some(code),
            Outcome::Timeout => Some("timeout"),
            Outcome::NoResponders => Some("no_responders"),
            Outcome::Transport => Some("transport"),
        }
    }

    /// Whether an order may be sent again with its key: no reply, or one
    /// that says "try again" (these are never stored with the key).
    fn retry_order(&self) -> bool {
        match self {
            Outcome::Ok(_) => false,
            Outcome::Code(code) => matches!(
                code.as_str(),
                "unavailable" | "internal" | "rate_limited" | "idempotency_key_in_use"
            ),
            Outcome::Timeout | Outcome::NoResponders | Outcome::Transport => true,
        }
    }
}

/// The code of an error reply, from its body (its status when the body
/// does not decode); `None` for a success.
fn error_code(reply: &async_nats::Message, content_type: ContentType) -> Option<String> {
    let status = reply.headers.as_ref()?.get(headers::SERVICE_ERROR_CODE)?;
    Some(match content_type.decode::<ErrorBody>(&reply.payload) {
        Ok(body) => body.code.as_str().to_owned(),
        Err(_) => format!("status_{}", status.as_str()),
    })
}

/// One caller's loop and what it saw.
struct Caller {
    client: Client,
    mix: Arc<Mix>,
    started: Instant,
    key_prefix: String,
    product_id: uuid::Uuid,
    /// The access token used by `auth.me`, `tenant.get` and orders: the
    /// signup's until the caller's own chain gives it one.
    access: String,
    /// The caller's refresh token, when it has a chain.
    chain: Option<Secret>,
    /// The owner's `auth.login`.
    login: Request,
    rng: XorShift,
    tally: Tally,
}

impl Caller {
    async fn run(mut self, deadline: Instant) -> anyhow::Result<Tally> {
        let mut bearer = self.bearer_requests()?;
        let mut orders = 0u64;
        while Instant::now() < deadline {
            match self.pick() {
                Op::Me => {
                    self.send(Op::Me, &bearer.0).await;
                }
                Op::TenantGet => {
                    self.send(Op::TenantGet, &bearer.1).await;
                }
                Op::Login => {
                    let login = self.login.clone();
                    self.send(Op::Login, &login).await;
                }
                Op::Refresh => {
                    let access = self.access.clone();
                    self.refresh().await?;
                    if self.access != access {
                        bearer = self.bearer_requests()?;
                    }
                }
                Op::OrdersCreate => {
                    orders += 1;
                    self.order(orders).await?;
                }
            }
        }
        Ok(self.tally)
    }

    fn pick(&mut self) -> Op {
        pick(self.rng.next())
    }

    /// `auth.me` and `tenant.get` with the current access token.
    fn bearer_requests(&self) -> anyhow::Result<(Request, Request)> {
        let content_type = self.client.content_type;
        Ok((
            Request::new(
                Op::Me.operation(),
                Some(&self.access),
                &Empty {},
                content_type,
                true,
            )?,
            Request::new(
                Op::TenantGet.operation(),
                Some(&self.access),
                &Empty {},
                content_type,
                true,
            )?,
        ))
    }

    /// Sends one request and counts its outcome under `op`.
    async fn send(&mut self, op: Op, request: &Request) -> Outcome {
        let second = self.started.elapsed().as_secs();
        let (elapsed, reply) = self.client.exchange(request, Some(self.mix.timeout)).await;
        let outcome = Outcome::classify(reply, self.client.content_type);
        self.tally.record(op, elapsed, second, outcome.kind());
        outcome
    }

    /// One step along the caller's chain, after a login when it has none.
    async fn refresh(&mut self) -> anyhow::Result<()> {
        let content_type = self.client.content_type;
        let refresh_token = match self.chain.take() {
            Some(token) => token,
            None => {
                let login = self.login.clone();
                let Outcome::Ok(payload) = self.send(Op::Login, &login).await else {
                    return Ok(());
                };
                let Ok(session) = content_type.decode::<SessionReply>(&payload) else {
                    return Ok(());
                };
                self.tally.chains_started += 1;
                self.access = session.tokens.access_token.expose().to_owned();
                session.tokens.refresh_token
            }
        };
        let request = Request::new(
            Op::Refresh.operation(),
            None,
            &RefreshRequest { refresh_token },
            content_type,
            true,
        )?;
        let outcome = self.send(Op::Refresh, &request).await;
        match outcome {
            Outcome::Ok(payload) => {
                if let Ok(reply) = content_type.decode::<RefreshReply>(&payload) {
                    self.access = reply.tokens.access_token.expose().to_owned();
                    self.chain = Some(reply.tokens.refresh_token);
                } else {
                    self.tally.chains_dropped += 1;
                }
            }
            // The chain is dropped (`chain` was taken): the next refresh
            // logs in for a new one.
            _ => self.tally.chains_dropped += 1,
        }
        Ok(())
    }

    /// Order number `n` of this caller: sent with its key until it is
    /// acknowledged, refused, or [`ORDER_RETRY_WINDOW`] has passed.
    async fn order(&mut self, n: u64) -> anyhow::Result<()> {
        let body = CreateOrderRequest {
            items: vec![OrderItemRequest {
                variant_id: None,
                product_id: Some(self.product_id),
                quantity: 1,
            }],
            shipping_address: None,
            billing_address: None,
            contact_phone: None,
        };
        let request = Request::new(
            Op::OrdersCreate.operation(),
            Some(&self.access),
            &body,
            self.client.content_type,
            true,
        )?
        .with_header(headers::IDEMPOTENCY_KEY, format!("{}-{n}", self.key_prefix));
        let first = Instant::now();
        let mut pause = Duration::from_millis(100);
        let mut retried = false;
        loop {
            let outcome = self.send(Op::OrdersCreate, &request).await;
            let orders = &mut self.tally.orders;
            if matches!(outcome, Outcome::Ok(_)) {
                orders.acknowledged += 1;
                orders.recovered += u64::from(retried);
                return Ok(());
            }
            if !outcome.retry_order() {
                orders.refused += 1;
                return Ok(());
            }
            if first.elapsed() + pause > ORDER_RETRY_WINDOW {
                orders.abandoned += 1;
                return Ok(());
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_secs(2));
            self.tally.orders.idempotent_retries += 1;
            retried = true;
        }
    }
}

/// The operation a draw of the PRNG picks from [`BLEND`].
fn pick(draw: u64) -> Op {
    let mut roll = draw % 100;
    for (op, share) in BLEND {
        if roll < share {
            return op;
        }
        roll -= share;
    }
    Op::Me
}

/// A caller's xorshift64 generator, seeded by its index: the same picks on
/// every run.
struct XorShift(u64);

impl XorShift {
    fn new(index: usize) -> Self {
        Self((index as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
}

/// What callers saw: per operation, per second, and the orders' fate.
#[derive(Default)]
struct Tally {
    /// In the order of [`Op::ALL`].
    ops: [OpTally; 5],
    /// Requests by the second (since the start) they were sent in.
    seconds: Vec<Second>,
    orders: Orders,
    chains_started: u64,
    chains_dropped: u64,
}

impl Tally {
    fn record(&mut self, op: Op, elapsed: Duration, second: u64, kind: Option<&str>) {
        let op_tally = &mut self.ops[op.index()];
        op_tally
            .micros
            .push(u32::try_from(elapsed.as_micros()).unwrap_or(u32::MAX));
        let second = usize::try_from(second).unwrap_or(usize::MAX).min(1 << 20);
        if self.seconds.len() <= second {
            self.seconds.resize_with(second + 1, Second::default);
        }
        let counts = &mut self.seconds[second];
        counts.requests += 1;
        match kind {
            None => {
                op_tally.ok += 1;
                counts.ok += 1;
            }
            Some(kind) => {
                *op_tally.errors.entry(kind.to_owned()).or_default() += 1;
                *counts.errors.entry(kind.to_owned()).or_default() += 1;
            }
        }
    }

    fn merge(&mut self, other: Tally) {
        for (mine, theirs) in self.ops.iter_mut().zip(other.ops) {
            mine.merge(theirs);
        }
        if self.seconds.len() < other.seconds.len() {
            self.seconds
                .resize_with(other.seconds.len(), Second::default);
        }
        for (mine, theirs) in self.seconds.iter_mut().zip(other.seconds) {
            mine.requests += theirs.requests;
            mine.ok += theirs.ok;
            add(&mut mine.errors, theirs.errors);
        }
        let (mine, theirs) = (&mut self.orders, other.orders);
        mine.acknowledged += theirs.acknowledged;
        mine.idempotent_retries += theirs.idempotent_retries;
        mine.recovered += theirs.recovered;
        mine.refused += theirs.refused;
        mine.abandoned += theirs.abandoned;
        self.chains_started += other.chains_started;
        self.chains_dropped += other.chains_dropped;
    }
}

fn add(mine: &mut BTreeMap<String, u64>, theirs: BTreeMap<String, u64>) {
    for (kind, count) in theirs {
        *mine.entry(kind).or_default() += count;
    }
}

/// One operation's requests: every latency (in microseconds, successes and
/// failures alike), successes, and failures by kind.
#[derive(Default, Clone)]
struct OpTally {
    micros: Vec<u32>,
    ok: u64,
    errors: BTreeMap<String, u64>,
}

impl OpTally {
    fn count(&self) -> usize {
        self.micros.len()
    }

    fn merge(&mut self, other: OpTally) {
        self.micros.extend(other.micros);
        self.ok += other.ok;
        add(&mut self.errors, other.errors);
    }

    /// `  name: n=… ok=… errors={…} …/s p50=… p90=… p99=… p999=… max=…`
    fn print(&self, name: &str, elapsed: Duration) {
        let mut sorted = self.micros.clone();
        sorted.sort_unstable();
        let latencies = if sorted.is_empty() {
            String::new()
        } else {
            format!(
                " {}",
                percentiles(sorted.len(), |i| f64::from(sorted[i]) / 1000.0)
            )
        };
        println!(
            "  {name}: n={} ok={} errors={} {:.0}/s{latencies}",
            sorted.len(),
            self.ok,
            braces(&self.errors),
            sorted.len() as f64 / elapsed.as_secs_f64(),
        );
    }
}

/// One second of the timeline.
#[derive(Default)]
struct Second {
    requests: u64,
    ok: u64,
    errors: BTreeMap<String, u64>,
}

/// What became of the orders.
#[derive(Default)]
struct Orders {
    /// Orders whose reply was a success (after retries or not).
    acknowledged: u64,
    /// Requests that repeated an order with its key.
    idempotent_retries: u64,
    /// Orders acknowledged after at least one retry.
    recovered: u64,
    /// Orders refused with a code that does not say "try again".
    refused: u64,
    /// Orders still without an answer when the retry window closed: made
    /// or not.
    abandoned: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_like_humantime() {
        assert_eq!(parse_duration("30"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        for bad in ["", "s", "3x", "1.5s", "-1s", "m5"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_blend_adds_up_and_each_caller_draws_every_operation() {
        assert_eq!(BLEND.iter().map(|(_, share)| share).sum::<u64>(), 100);
        for (i, op) in Op::ALL.iter().enumerate() {
            assert_eq!(op.index(), i);
            assert_eq!(BLEND[i].0, *op);
        }
        let mut rng = XorShift::new(0);
        let mut counts = [0u32; 5];
        for _ in 0..10_000 {
            let op = pick(rng.next());
            counts[op.index()] += 1;
        }
        for ((op, share), count) in BLEND.iter().zip(counts) {
            let expected = *share as f64 * 100.0;
            assert!(
                (f64::from(count) - expected).abs() < expected * 0.2,
                "{op:?}: {count} of 10000"
            );
        }
    }
}
