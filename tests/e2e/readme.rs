//! The README's "Try it" steps, as a newcomer runs them: the files of
//! `examples/try-it/` are in the README word for word, and run in order
//! (Python over NATS, `olympus call`, curl through the gateway), then all
//! of them again, each against this test's workers.

use olympus_tests::with_app;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use crate::OLYMPUS;

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");

fn try_it(name: &str) -> PathBuf {
    Path::new(ROOT).join("examples/try-it").join(name)
}

fn text(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned() + &String::from_utf8_lossy(&output.stderr)
}

#[test]
fn the_readme_shows_each_try_it_file_as_it_is() {
    let readme = std::fs::read_to_string(Path::new(ROOT).join("README.md")).unwrap();
    for (name, fence) in [
        ("python.py", "```python\n"),
        ("call.sh", "```sh\n"),
        ("curl.sh", "```sh\n"),
    ] {
        let file = std::fs::read_to_string(try_it(name)).unwrap();
        let block = format!("{fence}{}\n```", file.trim_end());
        assert!(
            readme.contains(&block),
            "README.md does not show examples/try-it/{name} as it is"
        );
        assert!(
            readme.contains(&format!("examples/try-it/{name}")),
            "README.md does not name {name}"
        );
    }
}

/// The gateway on a free port for `prefix`, until dropped.
async fn gateway(nats_url: &str, prefix: &str) -> (tokio::process::Child, String) {
    let port = olympus_tests::free_port();
    let addr = format!("127.0.0.1:{port}");
    let child = tokio::process::Command::new(olympus_tests::gateway::binary().await)
        .args(["-addr", &addr, "-subject-prefix", prefix])
        .env("NATS_URL", nats_url)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    assert!(
        olympus_tests::listening(port, Duration::from_secs(10)).await,
        "the gateway did not listen on {addr}"
    );
    (child, addr)
}

#[tokio::test]
async fn the_try_it_steps_work_in_order_and_again() {
    with_app(async |app| {
        let (_gateway, addr) = gateway(&app.nats_url, &app.prefix).await;
        // `olympus` as the README means it: a command on PATH.
        let bin =
            std::env::temp_dir().join(format!("olympus-readme-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(bin.join("home")).unwrap();
        std::os::unix::fs::symlink(OLYMPUS, bin.join("olympus")).unwrap();
        let path = format!(
            "{}:{}",
            bin.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let home = bin.join("home");
        let env = [
            ("PATH", path.as_str()),
            ("HOME", home.to_str().unwrap()),
            ("NATS_URL", app.nats_url.as_str()),
            ("OLYMPUS_SUBJECT_PREFIX", app.prefix.as_str()),
            ("GATEWAY", addr.as_str()),
        ];
        let step = async |program: &str, file: &str| {
            let output = tokio::process::Command::new(program)
                .arg(try_it(file))
                .env_clear()
                .envs(env)
                .stdin(std::process::Stdio::null())
                .output()
                .await
                .unwrap();
            assert!(output.status.success(), "{file} failed:\n{}", text(&output));
            (
                String::from_utf8_lossy(&output.stdout).into_owned(),
                text(&output),
            )
        };
        let mut orders = Vec::new();
        for round in 1..=2 {
            let (python, _) = step("python3", "python.py").await;
            let first = python.lines().next().unwrap_or_default();
            assert!(
                first.starts_with("ada@acme.example owner of tenant "),
                "round {round}: {python}"
            );

            let (call, said) = step("sh", "call.sh").await;
            assert!(
                said.contains("access token kept in"),
                "round {round}: {said}"
            );
            // The last reply, orders.list: one order, the same in both rounds.
            let list: serde_json::Value =
                serde_json::from_str(&call[call.rfind("\n{").map_or(0, |i| i + 1)..])
                    .unwrap_or_else(|e| {
                        panic!("round {round}: the last reply is not JSON ({e}):\n{call}")
                    });
            let items = list["items"].as_array().expect("a page of orders");
            assert_eq!(items.len(), 1, "round {round}: {list}");
            assert_eq!(items[0]["items"][0]["sku"], "MUG-1");
            assert_eq!(items[0]["items"][0]["quantity"], 2);
            orders.push(items[0]["id"].clone());

            let (curl, _) = step("sh", "curl.sh").await;
            assert!(curl.starts_with("HTTP/1.1 200"), "round {round}: {curl}");
            assert!(
                curl.contains("\"email\":\"ada@acme.example\""),
                "round {round}: {curl}"
            );
            assert!(curl.contains("\"sku\":\"MUG-1\""), "round {round}: {curl}");
        }
        assert_eq!(orders[0], orders[1], "a repeat made a second order");
        let products: i64 = sqlx::query_scalar("SELECT count(*) FROM products")
            .fetch_one(app.db.pool())
            .await
            .unwrap();
        assert_eq!(products, 1, "a repeat made a second product");
        let _ = std::fs::remove_dir_all(&bin);
    })
    .await;
}
