//! `olympus bench seed`: a database filled at a chosen scale, through
//! `COPY`, in the shape a platform's users bring (issue 34).
//!
//! At `--scale 1`: 10,000 tenants; 1,000,000 users, of which three
//! tenants hold 100,000 each and the rest about 70 each; a live session
//! per user; 100,000 products (50,000 in the first tenant, `seed-0`), one
//! variant each; 2,000,000 orders of 1 to 3 lines (50,000 in `seed-0`),
//! a captured payment for every paid, fulfilled or refunded one;
//! 1,000,000 audit events over a year (as many per tenant as it has
//! members; one in ten a logout, the rest logins); and as a day of
//! traffic leaves them, 200,000 idempotency keys, 50,000 published
//! outbox rows and 100,000 failed logins. Every figure scales with
//! `--scale` (at least 3 tenants and one of everything per tenant that
//! has any).
//!
//! Every seeded user's password is [`PASSWORD`], hashed once (seeding is
//! not a hashing benchmark). `seed-0`'s owner is `owner@seed-0.example`,
//! its admin `admin@seed-0.example`, its members `user{n}@seed-0.example`.
//! It seeds a database with no tenant yet (migrated first), as the owner
//! (`DATABASE_URL`; row-level security does not apply to it).

use anyhow::{bail, Context};
use chrono::{DateTime, Duration as TimeDelta, Utc};
use clap::Args;
use olympus_contracts::event::EventType;
use olympus_runtime::config::Argon2Params;
use sqlx::PgConnection;
use std::fmt::Write as _;
use std::time::Instant;
use uuid::Uuid;

/// Every seeded user's password.
pub const PASSWORD: &str = "seeded-password-1";

/// Options of `olympus bench seed`.
#[derive(Debug, Args)]
pub struct SeedArgs {
    /// How much to seed: 1 is the full shape (10,000 tenants, a million
    /// users, two million orders); 0.001 a thousandth of it.
    #[arg(long, default_value_t = 1.0)]
    scale: f64,

    /// The database to seed, as its owner: migrated first; it must hold no
    /// tenant yet.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/olympus",
        hide_env_values = true
    )]
    database_url: String,

    /// The Argon2id cost of the one password hash every user gets.
    #[arg(
        long,
        env = "OLYMPUS_ARGON2_PARAMS",
        value_enum,
        default_value_t = Argon2Params::DEFAULT
    )]
    argon2_params: Argon2Params,
}

/// How many of each, at a scale.
#[derive(Debug, Clone, Copy)]
struct Shape {
    tenants: usize,
    /// Members of each of the three big tenants.
    big_members: usize,
    /// Members of each other tenant.
    members: usize,
    /// Products of `seed-0`, and of each other tenant.
    products: (usize, usize),
    /// Orders of `seed-0`, and of each other tenant.
    orders: (usize, usize),
    /// Audit events in all, shared by the tenants as their members are.
    events: usize,
    users: usize,
    idempotency_keys: usize,
    outbox: usize,
    login_failures: usize,
}

impl Shape {
    fn at(scale: f64) -> Self {
        let n = |full: f64| ((full * scale).round() as usize).max(1);
        let tenants = n(10_000.0).max(3);
        let others = tenants - 1;
        let users = n(1_000_000.0);
        let big_members = n(100_000.0);
        let members = (users.saturating_sub(3 * big_members) / (tenants - 3).max(1)).max(1);
        Self {
            tenants,
            big_members,
            members,
            products: (n(50_000.0), (n(50_000.0) / others).max(1)),
            orders: (n(50_000.0), (n(1_950_000.0) / others).max(1)),
            events: n(1_000_000.0),
            users,
            idempotency_keys: n(200_000.0),
            outbox: n(50_000.0),
            login_failures: n(100_000.0),
        }
    }

    fn members_of(&self, tenant: usize) -> usize {
        if tenant < 3 {
            self.big_members.max(2)
        } else {
            self.members.max(1)
        }
    }

    fn products_of(&self, tenant: usize) -> usize {
        if tenant == 0 {
            self.products.0
        } else {
            self.products.1
        }
    }

    fn events_of(&self, tenant: usize) -> usize {
        (self.members_of(tenant) * self.events / self.users).max(1)
    }

    fn orders_of(&self, tenant: usize) -> usize {
        if tenant == 0 {
            self.orders.0
        } else {
            self.orders.1
        }
    }
}

/// A tenant's ids, as seeded.
struct Seeded {
    id: Uuid,
    users: Vec<Uuid>,
    /// Variant and product ids, prices.
    variants: Vec<(Uuid, Uuid, i64)>,
}

/// Seeds the database and prints what it made.
pub async fn run(args: SeedArgs) -> anyhow::Result<()> {
    if !(0.000_01..=10.0).contains(&args.scale) {
        bail!("--scale must be from 0.00001 to 10");
    }
    let started = Instant::now();
    let db = olympus_runtime::db::Db::connect(&args.database_url, None, 2, true)
        .await
        .context("connecting to Postgres")?;
    db.migrate().await?;
    let mut conn = db.pool().acquire().await?;
    let existing: i64 = sqlx::query_scalar("SELECT count(*) FROM tenants")
        .fetch_one(&mut *conn)
        .await?;
    if existing > 0 {
        bail!("the database already holds {existing} tenants: seed a new one (DATABASE_URL)");
    }
    let shape = Shape::at(args.scale);
    let hash = olympus_auth::hashing::Passwords::new(1, 0, args.argon2_params)?
        .admit(olympus_runtime::fairness::Party::Anonymous)
        .map_err(|_| anyhow::anyhow!("the hasher is busy"))?
        .hash(&olympus_contracts::Secret::new(PASSWORD))
        .await?;
    let now = Utc::now();
    let ts = |at: DateTime<Utc>| at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string();
    let at_now = ts(now);
    let mut tenants = Vec::with_capacity(shape.tenants);
    let mut counts = Vec::new();

    let mut rows = Table::new("tenants (id, slug, name, status, created_at, updated_at)");
    for t in 0..shape.tenants {
        let id = Uuid::now_v7();
        rows.row(format_args!(
            "{id}\tseed-{t}\tSeeded tenant {t}\tactive\t{at_now}\t{at_now}"
        ));
        tenants.push(Seeded {
            id,
            users: Vec::new(),
            variants: Vec::new(),
        });
    }
    counts.push(rows.copy(&mut conn).await?);

    let mut users = Table::new(
        "users (id, tenant_id, email, display_name, role, password_hash, email_verified, \
         created_at, updated_at)",
    );
    let mut sessions = Table::new(
        "sessions (id, tenant_id, user_id, refresh_digest, refresh_generation, created_at, \
         last_used_at, expires_at, auth_time, amr)",
    );
    for (t, tenant) in tenants.iter_mut().enumerate() {
        for u in 0..shape.members_of(t) {
            let id = Uuid::now_v7();
            let (role, local) = match u {
                0 => ("owner", "owner".to_owned()),
                1 => ("admin", "admin".to_owned()),
                _ => ("member", format!("user{u}")),
            };
            users.row(format_args!(
                "{id}\t{}\t{local}@seed-{t}.example\t{local} of seed-{t}\t{role}\t{hash}\ttrue\t{at_now}\t{at_now}",
                tenant.id
            ));
            sessions.row(format_args!(
                "{}\t{}\t{id}\t\\\\x{}\t0\t{at_now}\t{at_now}\t{}\t{at_now}\t{{pwd}}",
                Uuid::now_v7(),
                tenant.id,
                Uuid::new_v4().simple().to_string() + &Uuid::new_v4().simple().to_string(),
                ts(now + TimeDelta::days(30)),
            ));
            tenant.users.push(id);
        }
    }
    counts.push(users.copy(&mut conn).await?);
    counts.push(sessions.copy(&mut conn).await?);

    let mut products = Table::new(
        "products (id, tenant_id, sku, name, description, status, created_at, updated_at)",
    );
    let mut variants = Table::new(
        "product_variants (id, tenant_id, product_id, sku, price_amount, currency, stock, status, \
         created_at, updated_at)",
    );
    for (t, tenant) in tenants.iter_mut().enumerate() {
        for p in 0..shape.products_of(t) {
            // A product's first variant has the product's id.
            let id = Uuid::now_v7();
            let variant = id;
            let price = 100 + (p as i64 * 37) % 9_900;
            products.row(format_args!(
                "{id}\t{}\tSKU-{p}\t{} {p}\tSeeded product {p} of seed-{t}\tactive\t{at_now}\t{at_now}",
                tenant.id,
                WORDS[p % WORDS.len()],
            ));
            variants.row(format_args!(
                "{variant}\t{}\t{id}\tSKU-{p}\t{price}\tEUR\t1000000\tactive\t{at_now}\t{at_now}",
                tenant.id
            ));
            tenant.variants.push((variant, id, price));
        }
    }
    counts.push(products.copy(&mut conn).await?);
    counts.push(variants.copy(&mut conn).await?);

    let mut orders = Table::new(
        "orders (id, tenant_id, number, customer_id, status, currency, total_amount, \
         subtotal_amount, created_at, updated_at)",
    );
    let mut items = Table::new(
        "order_items (order_id, tenant_id, position, product_id, variant_id, sku, name, \
         unit_amount, quantity, line_amount)",
    );
    let mut payments = Table::new(
        "payments (id, tenant_id, order_id, status, currency, amount, captured_amount, \
         refunded_amount, provider, provider_ref, created_at, updated_at)",
    );
    let mut numbers = Table::new("order_numbers (tenant_id, last)");
    let mut keys = Table::new(
        "idempotency_keys (tenant_id, operation, key, fingerprint, status, reply, created_at, \
         caller_id)",
    );
    let (mut seeded_keys, keys_per_order) = (0, shape.idempotency_keys);
    for (t, tenant) in tenants.iter().enumerate() {
        let count = shape.orders_of(t);
        for o in 0..count {
            let id = Uuid::now_v7();
            let customer = tenant.users[o % tenant.users.len()];
            let at = ts(now - TimeDelta::minutes((o % 525_600) as i64));
            let mut total = 0;
            for line in 0..(1 + o % 3) {
                let (variant, product, price) =
                    tenant.variants[(o * 7 + line) % tenant.variants.len()];
                let quantity = 1 + (o + line) as i64 % 3;
                total += price * quantity;
                items.row(format_args!(
                    "{id}\t{}\t{line}\t{product}\t{variant}\tSKU\tSeeded line\t{price}\t{quantity}\t{}",
                    tenant.id,
                    price * quantity
                ));
            }
            let status = STATUSES[o % STATUSES.len()];
            orders.row(format_args!(
                "{id}\t{}\t{}\t{customer}\t{status}\tEUR\t{total}\t{total}\t{at}\t{at}",
                tenant.id,
                o + 1
            ));
            if matches!(status, "paid" | "fulfilled" | "refunded") {
                let (payment_status, refunded) = match status {
                    "refunded" => ("refunded", total),
                    _ => ("captured", 0),
                };
                payments.row(format_args!(
                    "{}\t{}\t{id}\t{payment_status}\tEUR\t{total}\t{total}\t{refunded}\tfake\tseed-{o}\t{at}\t{at}",
                    Uuid::now_v7(),
                    tenant.id
                ));
            }
            if seeded_keys < keys_per_order && o % 10 == 0 {
                seeded_keys += 1;
                keys.row(format_args!(
                    "{}\tcommerce.orders.create\tseed-{t}-{o}\t\\\\x{}\t200\t{{\"order\":{{\"id\":\"{id}\"}}}}\t{}\t{customer}",
                    tenant.id,
                    Uuid::new_v4().simple().to_string() + &Uuid::new_v4().simple().to_string(),
                    ts(now - TimeDelta::seconds((o % 86_400) as i64))
                ));
            }
        }
        numbers.row(format_args!("{}\t{count}", tenant.id));
    }
    counts.push(orders.copy(&mut conn).await?);
    counts.push(items.copy(&mut conn).await?);
    counts.push(payments.copy(&mut conn).await?);
    counts.push(numbers.copy(&mut conn).await?);
    counts.push(keys.copy(&mut conn).await?);

    let mut events =
        Table::new("audit_events (id, tenant_id, type, actor_id, occurred_at, envelope)");
    for (t, tenant) in tenants.iter().enumerate() {
        for e in 0..shape.events_of(t) {
            let user = tenant.users[e % tenant.users.len()];
            let occurred = now - TimeDelta::seconds((e as i64 * 631) % (365 * 86_400));
            let id = olympus_contracts::event::event_id(occurred);
            let at = ts(occurred);
            let session_id = Uuid::now_v7();
            // One in ten a logout, the rest logins.
            let (event_type, data) = if e % 10 == 9 {
                let data = olympus_contracts::event::data::UserLoggedOut {
                    user_id: user,
                    session_id,
                };
                (EventType::UserLoggedOut, serde_json::to_value(data)?)
            } else {
                let data = olympus_contracts::event::data::UserLoggedIn {
                    user_id: user,
                    session_id,
                    ip: None,
                    user_agent: None,
                };
                (EventType::UserLoggedIn, serde_json::to_value(data)?)
            };
            let envelope = serde_json::to_string(&olympus_contracts::event::Envelope {
                id,
                event_type,
                tenant_id: tenant.id,
                occurred_at: occurred,
                correlation_id: format!("seed-{e}"),
                actor_id: Some(user),
                schema_version: olympus_contracts::event::SCHEMA_VERSION,
                data,
            })?;
            events.row(format_args!(
                "{id}\t{}\t{}\t{user}\t{at}\t{}",
                tenant.id,
                event_type.as_str(),
                envelope.replace('\\', "\\\\")
            ));
        }
    }
    counts.push(events.copy(&mut conn).await?);

    let mut outbox = Table::new(
        "outbox (id, tenant_id, aggregate_id, kind, subject, correlation_id, payload, created_at, \
         published_at)",
    );
    for o in 0..shape.outbox {
        let tenant = &tenants[o % tenants.len()];
        let at = ts(now - TimeDelta::seconds((o % 3_600) as i64));
        outbox.row(format_args!(
            "{}\t{}\t{}\tevent\tolympus.events.{}.user.logged_in\tseed-{o}\t\\\\x7b7d\t{at}\t{at}",
            Uuid::now_v7(),
            tenant.id,
            tenant.users[0],
            tenant.id
        ));
    }
    counts.push(outbox.copy(&mut conn).await?);

    let mut failures = Table::new("login_failures (ip, failed_at)");
    for f in 0..shape.login_failures {
        failures.row(format_args!(
            "203.0.113.{}\t{}",
            f % 250,
            ts(now - TimeDelta::seconds((f % 86_400) as i64))
        ));
    }
    counts.push(failures.copy(&mut conn).await?);

    // As autovacuum would have left it: statistics, the visibility map
    // (index-only scans) and no pending GIN entries.
    sqlx::query("VACUUM (ANALYZE)").execute(&mut *conn).await?;
    drop(conn);
    db.close().await;
    println!(
        "seeded at scale {} in {:.1} s ({}); every user's password: {PASSWORD}",
        args.scale,
        started.elapsed().as_secs_f64(),
        counts
            .iter()
            .map(|(table, rows)| format!("{table} {rows}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok(())
}

/// The first word of the seeded products' names, in turn.
pub(crate) const WORDS: [&str; 8] = [
    "Lamp", "Chair", "Kettle", "Blanket", "Mug", "Shelf", "Candle", "Rug",
];

const STATUSES: [&str; 10] = [
    "paid",
    "fulfilled",
    "fulfilled",
    "paid",
    "pending_payment",
    "fulfilled",
    "cancelled",
    "paid",
    "fulfilled",
    "refunded",
];

/// Rows for one table, in `COPY`'s text format, sent in parts of a few
/// megabytes.
struct Table {
    statement: String,
    buffer: String,
    rows: usize,
    parts: Vec<String>,
}

impl Table {
    fn new(columns: &str) -> Self {
        Self {
            statement: format!("COPY {columns} FROM STDIN"),
            buffer: String::new(),
            rows: 0,
            parts: Vec::new(),
        }
    }

    /// One row: its fields separated by tabs (none holds a tab, a line end
    /// or, unescaped, a backslash).
    fn row(&mut self, fields: std::fmt::Arguments<'_>) {
        let _ = self.buffer.write_fmt(fields);
        self.buffer.push('\n');
        self.rows += 1;
        if self.buffer.len() > 4 << 20 {
            self.parts.push(std::mem::take(&mut self.buffer));
        }
    }

    /// Sends the rows; the table's name and how many.
    async fn copy(mut self, conn: &mut PgConnection) -> anyhow::Result<(String, usize)> {
        let table = self
            .statement
            .split_whitespace()
            .nth(1)
            .unwrap_or_default()
            .to_owned();
        self.parts.push(std::mem::take(&mut self.buffer));
        let mut copy = conn
            .copy_in_raw(&self.statement)
            .await
            .with_context(|| format!("copying into {table}"))?;
        for part in self.parts {
            copy.send(part.into_bytes())
                .await
                .with_context(|| format!("copying into {table}"))?;
        }
        copy.finish()
            .await
            .with_context(|| format!("copying into {table}"))?;
        Ok((table, self.rows))
    }
}
