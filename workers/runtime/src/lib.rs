//! What every Olympus worker shares.
//!
//! A worker is a NATS micro service whose endpoints are plain async
//! functions, one per operation of the catalog:
//! `async fn(ctx: Ctx, request: O::Request) -> Result<O::Reply, Error>`.
//! This crate does everything around them, the same way for every worker:
//! decoding and encoding per `Content-Type`, correlation ids, bearer token
//! verification and revocation, roles, turning every [`Error`] into the
//! contract's error reply, the request's transaction under row-level
//! security, events, and draining on shutdown. What only one worker needs
//! stays in that worker (password hashing, opaque tokens and issuing access
//! tokens are the auth worker's), kept beside the app with
//! [`App::extension`] when it is state.
//!
//! # Layers
//! Each module names only modules of its own layer or a lower one, never a
//! higher one, and modules of one layer name each other without a circle
//! (`tests::modules_import_only_downward` holds them to it).
//!
//! 1. **Basics**: [`error`] ([`Error`], a contract error code plus the
//!    internal cause), [`clock`] (time as a dependency, movable in tests),
//!    [`bounds`] (reply subjects and headers a request may carry), [`text`]
//!    (names, lines and descriptions, bounded), [`phone`] (E.164),
//!    [`shutdown`] (SIGTERM/SIGINT into a cancellation token).
//! 2. **Infrastructure**: [`config`] (flags and environment variables),
//!    [`telemetry`] (tracing), [`nats`] (connecting), [`deadline`] (the
//!    bound on a request's database time, and whether Postgres answers),
//!    [`shared_reads`] (point reads concurrent requests share a round trip
//!    for), [`db`] (the pools, migrations, tenant-scoped transactions,
//!    commits), [`tokens`] (verifying access tokens, the signing keys),
//!    [`revocation`] (revoked sessions and suspended tenants, in memory),
//!    [`fairness`] (an operation's capacity shared among the tenants
//!    asking), [`metrics`] (request counters).
//! 3. **Per-request machinery**: [`auth`] (bearer checks), [`roles`] (who
//!    may call an operation, against the current role), [`pages`] (page
//!    requests and cursors), [`idempotency`] (`Idempotency-Key`, stored
//!    replies), [`outbox`] (events and mail in the transaction, the relay to
//!    JetStream).
//! 4. **The app and the request context**: [`app`] ([`App`], a process's
//!    shared state), [`context`] ([`Ctx`], what one request's handler
//!    reaches, and the one way it reaches tenant data).
//! 5. **The service**: [`service`] (workers, endpoints, the request loop,
//!    replies), [`health`] (`/metrics`, `/healthz`, `/readyz`).

pub mod app;
pub mod auth;
pub mod bounds;
pub mod clock;
pub mod config;
pub mod context;
pub mod db;
pub mod deadline;
pub mod error;
pub mod fairness;
pub mod health;
pub mod idempotency;
pub mod metrics;
pub mod nats;
pub mod outbox;
pub mod pages;
pub mod phone;
pub mod revocation;
pub mod roles;
pub mod service;
pub mod shared_reads;
pub mod shutdown;
pub mod telemetry;
pub mod text;
pub mod tokens;

pub use app::App;
pub use config::Config;
pub use context::{Ctx, Tx};
pub use db::Db;
pub use error::Error;
pub use service::{endpoint, Endpoint, Worker};

#[cfg(test)]
mod tests {
    //! The layers of the crate documentation, read from this file's own
    //! doc comment, against what each module's code names.

    use std::collections::{BTreeMap, BTreeSet};
    use std::path::Path;

    const LIB: &str = include_str!("lib.rs");

    /// Module name → layer number, from the `# Layers` list above.
    fn layers(modules: &BTreeSet<String>) -> BTreeMap<String, usize> {
        let mut layers = BTreeMap::new();
        let mut layer = 0;
        let section = LIB
            .split("//! # Layers")
            .nth(1)
            .expect("a # Layers section");
        for line in section
            .lines()
            .skip(1)
            .take_while(|line| line.starts_with("//!"))
        {
            let line = line.trim_start_matches("//!").trim_start();
            if let Some((number, _)) = line.split_once(". **") {
                layer = number.parse().expect("a numbered layer");
            }
            for link in line.split("[`").skip(1) {
                let name = link.split('`').next().unwrap_or_default();
                if modules.contains(name) {
                    assert!(layer > 0, "{name} is named before the first layer");
                    layers.insert(name.to_string(), layer);
                }
            }
        }
        layers
    }

    /// `pub mod` names, and what each `pub use` re-export comes from.
    fn modules() -> (BTreeSet<String>, BTreeMap<String, String>) {
        let mut modules = BTreeSet::new();
        let mut reexports = BTreeMap::new();
        for line in LIB.lines() {
            if let Some(name) = line.strip_prefix("pub mod ") {
                modules.insert(name.trim_end_matches(';').to_string());
            } else if let Some(path) = line.strip_prefix("pub use ") {
                let (module, names) = path.split_once("::").expect("pub use module::…");
                for name in names.trim_matches(|c| "{};".contains(c)).split(',') {
                    reexports.insert(name.trim().to_string(), module.to_string());
                }
            }
        }
        (modules, reexports)
    }

    /// The code (comments left out) of a module: `name.rs`, or every file
    /// of the folder `name/`.
    fn code(name: &str) -> String {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let file = src.join(format!("{name}.rs"));
        let texts: Vec<String> = if file.exists() {
            vec![std::fs::read_to_string(file).unwrap()]
        } else {
            let mut files: Vec<_> = std::fs::read_dir(src.join(name))
                .unwrap()
                .map(|entry| entry.unwrap().path())
                .collect();
            files.sort();
            files
                .into_iter()
                .map(|path| std::fs::read_to_string(path).unwrap())
                .collect()
        };
        let mut code = String::new();
        for text in texts {
            // A module's unit tests may use anything; they are not imports.
            let text = text.split("#[cfg(test)]\nmod tests").next().unwrap();
            for line in text
                .lines()
                .filter(|line| !line.trim_start().starts_with("//"))
            {
                code.push_str(line);
                code.push('\n');
            }
        }
        code
    }

    /// The crate's modules a module's code names (`crate::x`, or a
    /// re-export such as `crate::Error`).
    fn named(name: &str, reexports: &BTreeMap<String, String>) -> BTreeSet<String> {
        let code = code(name);
        let mut named = BTreeSet::new();
        for use_of in code.split("crate::").skip(1) {
            let first: String = use_of
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            let module = reexports.get(&first).cloned().unwrap_or(first);
            if module != name {
                named.insert(module);
            }
        }
        named
    }

    #[test]
    fn modules_import_only_downward() {
        let (modules, reexports) = modules();
        let layers = layers(&modules);
        let unplaced: Vec<_> = modules
            .iter()
            .filter(|m| !layers.contains_key(*m))
            .collect();
        assert!(
            unplaced.is_empty(),
            "modules in no layer of the crate docs: {unplaced:?}"
        );

        let graph: BTreeMap<String, BTreeSet<String>> = modules
            .iter()
            .map(|m| (m.clone(), named(m, &reexports)))
            .collect();
        let mut upward = Vec::new();
        for (module, names) in &graph {
            for other in names {
                let Some(&other_layer) = layers.get(other) else {
                    panic!("{module} names crate::{other}, which is no module");
                };
                if other_layer > layers[module] {
                    upward.push(format!(
                        "{module} (layer {}) names {other} (layer {other_layer})",
                        layers[module]
                    ));
                }
            }
        }
        assert!(
            upward.is_empty(),
            "imports that run up a layer: {upward:#?}"
        );

        // No circle, within a layer either: a depth-first walk never meets
        // a module still on its own path.
        fn walk<'a>(
            module: &'a str,
            graph: &'a BTreeMap<String, BTreeSet<String>>,
            path: &mut Vec<&'a str>,
            done: &mut BTreeSet<&'a str>,
        ) {
            if let Some(start) = path.iter().position(|m| *m == module) {
                panic!(
                    "an import circle: {} -> {module}",
                    path[start..].join(" -> ")
                );
            }
            if !done.insert(module) {
                return;
            }
            path.push(module);
            for other in &graph[module] {
                walk(other, graph, path, done);
            }
            path.pop();
        }
        let mut done = BTreeSet::new();
        for module in graph.keys() {
            walk(module, &graph, &mut Vec::new(), &mut done);
        }
    }
}
