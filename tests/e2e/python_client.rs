//! The typed Python package (`clients/python`), as the Python teams use it:
//! installed in a virtual environment of its own (`tools/python-venv`),
//! against a real `olympus serve`. Its generated modules are checked against
//! the spec by `contracts` (`python::tests`); the examples on it run in
//! processes.rs, signing_keys.rs and nats_permissions.rs.

use olympus_tests::python::client_python;
use olympus_tests::{with_app_opts, Options};
use serde_json::Value;
use std::time::Duration;

use crate::OLYMPUS;

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");

/// `mypy --strict` finds nothing in the package, its test script and the
/// examples written on it: an untyped call is a failure.
#[tokio::test]
async fn mypy_strict_passes_on_the_package_and_the_examples_on_it() {
    let output = tokio::process::Command::new(client_python())
        .args(["-m", "mypy", "--strict", "--no-incremental"])
        .args([
            "flows.py",
            "account_flow.py",
            "admin_flow.py",
            "lifecycle_flow.py",
            "shop_flow.py",
            "subscriber.py",
            "verify_token.py",
        ])
        .arg(format!("{ROOT}/clients/python/tests/every_operation.py"))
        .arg(format!("{ROOT}/clients/python/src/olympus_client"))
        .current_dir(format!("{ROOT}/examples/python"))
        .output()
        .await
        .expect("running mypy");
    let said = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(said.contains("Success: no issues found in"), "{said}");
}

/// Every operation of the spec through the package: replies parsed by the
/// generated models, coded errors raised as their classes, no method left
/// uncalled (clients/python/tests/every_operation.py).
#[tokio::test]
async fn every_operation_goes_through_the_package() {
    with_app_opts(Options::without_workers(), async |app| {
        let mut serve = app.serve_process(OLYMPUS, &[]).await;
        let output = tokio::time::timeout(
            Duration::from_secs(120),
            tokio::process::Command::new(client_python())
                .arg(format!("{ROOT}/clients/python/tests/every_operation.py"))
                .env("NATS_URL", &app.nats_url)
                .env("OLYMPUS_SUBJECT_PREFIX", &app.prefix)
                .output(),
        )
        .await
        .expect("every operation within 120 s")
        .expect("running python");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "{stdout}{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let last: Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
        let operations = olympus_contracts::operation::ALL.len();
        assert_eq!(last["done"], operations, "{stdout}");
        // The correlation id a reply came with is the request's.
        let lines: Vec<Value> = stdout
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect();
        assert!(lines
            .iter()
            .filter(|l| l.get("reply").is_some())
            .all(|l| l["correlation_id"].as_str().is_some_and(|c| c.len() == 36)));
        assert!(serve.terminate().await.success());
    })
    .await;
}
