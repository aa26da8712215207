//! `olympus bench --op noisy`: a quiet tenant beside a flooding one.
//!
//! The quiet tenant (the run's own) sends `auth.me` from
//! [`QUIET_CALLERS`] callers, `--requests` requests, first alone, then
//! while another process (this binary's `bench --op me`, with a tenant of
//! its own) floods `auth.me` from `--concurrency` callers without pause.
//! It prints the quiet tenant's throughput, p50 and p99 in both phases and
//! their ratios, every quiet request that was not a success, and how many
//! `auth.me` requests the workers answered and shed meanwhile (their
//! `$SRV.STATS`): a fair worker sheds the flood, never the quiet tenant.

use anyhow::Context;
use olympus_contracts::operation;
use olympus_contracts::shapes::Empty;
use olympus_contracts::tenant::CreateTenantReply;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::run::{BenchArgs, Client, Request, Sample};

/// The quiet tenant's callers.
pub const QUIET_CALLERS: usize = 4;

/// One phase's figures for the quiet tenant.
struct Figures {
    per_second: f64,
    p50: Duration,
    p99: Duration,
    failed: usize,
}

impl Figures {
    fn of(mut samples: Vec<Sample>, elapsed: Duration) -> Self {
        samples.sort_unstable_by_key(|(d, _)| *d);
        let at = |q: f64| {
            samples
                .get(((samples.len() as f64 * q) as usize).min(samples.len().saturating_sub(1)))
                .map_or(Duration::ZERO, |(d, _)| *d)
        };
        Self {
            per_second: samples.len() as f64 / elapsed.as_secs_f64(),
            p50: at(0.50),
            p99: at(0.99),
            failed: samples.iter().filter(|(_, ok)| !ok).count(),
        }
    }

    fn print(&self, label: &str) {
        println!(
            "  quiet tenant {label}: {:.0}/s p50={:.2}ms p99={:.2}ms failed={}",
            self.per_second,
            self.p50.as_secs_f64() * 1e3,
            self.p99.as_secs_f64() * 1e3,
            self.failed
        );
    }
}

/// Runs both phases and reports them.
pub(crate) async fn bench_noisy(
    client: &Client,
    args: &BenchArgs,
    quiet: &CreateTenantReply,
) -> anyhow::Result<()> {
    let quiet_me = Request::new(
        operation::AUTH_ME,
        Some(quiet.tokens.access_token.expose()),
        &Empty {},
        client.content_type,
        true,
    )?;

    let alone = quiet_phase(client, &quiet_me, args.requests).await?;
    println!(
        "noisy neighbour: {} auth.me from {QUIET_CALLERS} quiet callers, alone, then beside {} \
         flooding callers of another tenant",
        args.requests, args.concurrency
    );
    alone.print("alone");

    // The flood comes from another process, as another tenant's clients
    // would: this same binary's `bench --op me`, which signs up its own
    // tenant, from `--concurrency` callers until it is stopped.
    let before = me_stats(client).await?;
    let mut flood = tokio::process::Command::new(std::env::current_exe()?)
        .args([
            "bench",
            "--op",
            "me",
            "--no-floors",
            "--requests",
            "1000000",
        ])
        .args(["--concurrency", &args.concurrency.to_string()])
        .env("NATS_URL", &args.mesh.nats_url)
        .env("OLYMPUS_SUBJECT_PREFIX", &args.mesh.subject_prefix)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .context("starting the flooding process")?;
    // Under way once it has sent as many requests as it has callers, ten
    // times over.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let now = me_stats(client).await?;
        if now.requests >= before.requests + 10 * args.concurrency as u64 {
            break;
        }
        if Instant::now() > deadline {
            anyhow::bail!("the flooding process sent nothing in 30 s");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let during = me_stats(client).await?;
    let started = Instant::now();
    let beside = quiet_phase(client, &quiet_me, args.requests).await?;
    let flood_time = started.elapsed();
    let after = me_stats(client).await?;
    let _ = flood.kill().await;
    beside.print("beside the flood");
    println!(
        "  quiet tenant beside the flood / alone: throughput {:.2}, p99 {:.1}x",
        beside.per_second / alone.per_second,
        beside.p99.as_secs_f64() / alone.p99.as_secs_f64().max(1e-9)
    );
    let (requests, shed) = (after.requests - during.requests, after.shed - during.shed);
    println!(
        "  auth.me while the quiet tenant ran: {:.0}/s answered, {:.0}/s shed (all tenants; the \
         quiet tenant's failed above)",
        requests.saturating_sub(shed) as f64 / flood_time.as_secs_f64(),
        shed as f64 / flood_time.as_secs_f64(),
    );
    Ok(())
}

/// `auth.me`'s counters in `$SRV.STATS`, summed over the processes that
/// answer within a second.
#[derive(Debug, Default, Clone, Copy)]
struct MeStats {
    requests: u64,
    shed: u64,
}

async fn me_stats(client: &Client) -> anyhow::Result<MeStats> {
    use futures::StreamExt;
    let inbox = client.nats.new_inbox();
    let mut replies = client.nats.subscribe(inbox.clone()).await?;
    client
        .nats
        .publish_with_reply(
            format!("$SRV.STATS.{}", operation::AUTH_ME.service.micro_name()),
            inbox,
            bytes::Bytes::new(),
        )
        .await?;
    let mut stats = MeStats::default();
    let until = tokio::time::Instant::now() + Duration::from_millis(300);
    while let Ok(Some(reply)) = tokio::time::timeout_at(until, replies.next()).await {
        let body: serde_json::Value = serde_json::from_slice(&reply.payload)?;
        for endpoint in body["endpoints"].as_array().into_iter().flatten() {
            if endpoint["name"] == "me" {
                stats.requests += endpoint["num_requests"].as_u64().unwrap_or(0);
                stats.shed += endpoint["data"]["shed"].as_u64().unwrap_or(0);
            }
        }
    }
    Ok(stats)
}

/// `requests` quiet requests from [`QUIET_CALLERS`] callers.
async fn quiet_phase(
    client: &Client,
    request: &Request,
    requests: usize,
) -> anyhow::Result<Figures> {
    let next = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let callers: Vec<_> = (0..QUIET_CALLERS)
        .map(|_| {
            let (client, request, next) = (client.clone(), request.clone(), Arc::clone(&next));
            tokio::spawn(async move {
                let mut samples = Vec::new();
                while next.fetch_add(1, Ordering::Relaxed) < requests as u64 {
                    samples.push(client.send(&request).await?);
                }
                anyhow::Ok(samples)
            })
        })
        .collect();
    let mut samples = Vec::with_capacity(requests);
    for caller in callers {
        samples.extend(caller.await??);
    }
    Ok(Figures::of(samples, started.elapsed()))
}
