//! Request counters: per operation, requests, errors by code and a
//! latency histogram, kept in atomics by the request path and rendered in
//! Prometheus text for `GET /metrics` (see [`crate::health`]).

use olympus_contracts::operation::Operation;

use crate::fairness::{Fair, Label};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

/// One operation's counters, looked up once when its endpoint starts.
#[derive(Debug, Default)]
pub struct OperationMetrics {
    requests: AtomicU64,
    buckets: [AtomicU64; BUCKETS.len()],
    /// Sum of latencies, in microseconds.
    latency_micros: AtomicU64,
    errors: Mutex<BTreeMap<&'static str, u64>>,
}

impl OperationMetrics {
    /// Records one answered request: its latency and, when it failed, its
    /// error code.
    pub fn record(&self, latency: Duration, error: Option<&'static str>) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let seconds = latency.as_secs_f64();
        for (bound, bucket) in BUCKETS.iter().zip(&self.buckets) {
            if seconds <= *bound {
                bucket.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.latency_micros.fetch_add(
            u64::try_from(latency.as_micros()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
        if let Some(code) = error {
            *self
                .errors
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .entry(code)
                .or_default() += 1;
        }
    }
}

/// Which of a tenant's counts (requests, shed, limited) a family shows.
type Pick = fn(&(u64, u64, u64)) -> u64;

/// Time spent on one kind of work, and how many times: what requests
/// waited for password hashing (its queue and Argon2), so that a
/// request's latency splits into hashing and the rest.
#[derive(Debug, Default)]
pub struct Spent {
    count: AtomicU64,
    micros: AtomicU64,
}

impl Spent {
    /// Counts one wait of `took`.
    pub fn record(&self, took: Duration) {
        self.count.fetch_add(1, Ordering::Relaxed);
        self.micros.fetch_add(
            u64::try_from(took.as_micros()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
    }
}

/// The request counters of a process.
#[derive(Debug, Default)]
pub struct Metrics {
    operations: Mutex<BTreeMap<String, Arc<OperationMetrics>>>,
    /// Each operation's scheduler, whose counts per party are rendered.
    schedulers: Mutex<Vec<Arc<Fair>>>,
    password_hashing: Arc<Spent>,
}

impl Metrics {
    /// Where the password hasher counts the time requests wait for it.
    pub fn password_hashing(&self) -> Arc<Spent> {
        Arc::clone(&self.password_hashing)
    }

    /// Renders the counts per party of `fair` too.
    pub fn watch(&self, fair: &Arc<Fair>) {
        self.schedulers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Arc::clone(fair));
    }

    /// Requests received and shed per party (see
    /// [`crate::fairness::Label`]), all operations together: the first 32
    /// tenants each operation serves by id, then `other`.
    fn render_parties(&self, out: &mut String) {
        let mut totals: BTreeMap<Label, (u64, u64, u64)> = BTreeMap::new();
        for fair in self
            .schedulers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            for (label, (requests, shed, limited)) in fair.counts() {
                let total = totals.entry(label).or_default();
                total.0 += requests;
                total.1 += shed;
                total.2 += limited;
            }
        }
        let families: [(&str, &str, Pick); 3] = [
            (
                "olympus_tenant_requests_total",
                "Requests received, by tenant (the first 32 of each operation, then other).",
                |t| t.0,
            ),
            (
                "olympus_tenant_shed_total",
                "Requests shed beyond the tenant's fair share, by tenant.",
                |t| t.1,
            ),
            (
                "olympus_tenant_limited_total",
                "Requests refused by the tenant's rate (OLYMPUS_TENANT_RATE), by tenant.",
                |t| t.2,
            ),
        ];
        for (name, help, value) in families {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
            for (label, total) in &totals {
                let _ = writeln!(out, "{name}{{tenant=\"{label}\"}} {}", value(total));
            }
        }
    }

    /// The counters of `operation` (made on first use).
    pub fn of(&self, operation: Operation) -> Arc<OperationMetrics> {
        let name = format!("{}.{}", operation.service.as_str(), operation.name);
        let mut operations = self.operations.lock().unwrap_or_else(|e| e.into_inner());
        Arc::clone(operations.entry(name).or_default())
    }

    pub(crate) fn render(&self, out: &mut String) {
        self.render_parties(out);
        let hashing = &self.password_hashing;
        let _ = writeln!(
            out,
            "# HELP olympus_password_hashing_seconds_total Time requests waited for a password hash or verification: the hashing queue and Argon2.\n\
             # TYPE olympus_password_hashing_seconds_total counter\n\
             olympus_password_hashing_seconds_total {}\n\
             # HELP olympus_password_hashings_total Password hashes and verifications requests waited for.\n\
             # TYPE olympus_password_hashings_total counter\n\
             olympus_password_hashings_total {}",
            hashing.micros.load(Ordering::Relaxed) as f64 / 1e6,
            hashing.count.load(Ordering::Relaxed)
        );
        let operations = self.operations.lock().unwrap_or_else(|e| e.into_inner());
        out.push_str("# HELP olympus_requests_total Requests answered, by operation.\n# TYPE olympus_requests_total counter\n");
        for (name, m) in operations.iter() {
            let _ = writeln!(
                out,
                "olympus_requests_total{{operation=\"{name}\"}} {}",
                m.requests.load(Ordering::Relaxed)
            );
        }
        out.push_str("# HELP olympus_request_errors_total Error replies, by operation and code.\n# TYPE olympus_request_errors_total counter\n");
        for (name, m) in operations.iter() {
            for (code, count) in m.errors.lock().unwrap_or_else(|e| e.into_inner()).iter() {
                let _ = writeln!(
                    out,
                    "olympus_request_errors_total{{operation=\"{name}\",code=\"{code}\"}} {count}"
                );
            }
        }
        out.push_str("# HELP olympus_request_duration_seconds Time from a request's arrival to its reply.\n# TYPE olympus_request_duration_seconds histogram\n");
        for (name, m) in operations.iter() {
            for (bound, bucket) in BUCKETS.iter().zip(&m.buckets) {
                let _ = writeln!(
                    out,
                    "olympus_request_duration_seconds_bucket{{operation=\"{name}\",le=\"{bound}\"}} {}",
                    bucket.load(Ordering::Relaxed)
                );
            }
            let count = m.requests.load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "olympus_request_duration_seconds_bucket{{operation=\"{name}\",le=\"+Inf\"}} {count}"
            );
            let _ = writeln!(
                out,
                "olympus_request_duration_seconds_sum{{operation=\"{name}\"}} {}",
                m.latency_micros.load(Ordering::Relaxed) as f64 / 1e6
            );
            let _ = writeln!(
                out,
                "olympus_request_duration_seconds_count{{operation=\"{name}\"}} {count}"
            );
        }
    }
}
