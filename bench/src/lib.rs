//! `olympus bench`: load generation against running workers, with the
//! machine's floors measured in the same run. Speed is measured here, never
//! in timed tests. A crate of its own, so that nothing of it is in the
//! workers' dependency graph: the `olympus` command is a thin entry into
//! [`bench`].
//!
//! # Layout
//! - `run`: the command's arguments, one operation under load, the report;
//! - `checkout`: `--op checkout`, carts checked out against their bare-SQL
//!   floor;
//! - `noisy`: `--op noisy`, a quiet tenant alone and beside a flooding
//!   one;
//! - `mix`: a blend of operations for a duration, for fault drills
//!   (`olympus drill` makes the fault with shell commands at set moments);
//! - `floors`: what the machine can do at best (NATS echo, a Postgres point
//!   select, an order's writes as bare SQL, Argon2), measured around a run;
//! - `cpu`: the CPU each process spent per request, from `/proc`;
//! - `seed`: `olympus bench seed`, a database filled at a chosen scale;
//! - `scale`: `olympus bench scale`, every operation on a seeded database
//!   against an empty one.

mod checkout;
mod cpu;
mod floors;
mod mix;
mod noisy;
mod run;
pub mod scale;
pub mod seed;

pub use run::{bench, bench_cli, drill, BenchArgs, BenchCli, DrillArgs};
