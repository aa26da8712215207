//! The Go gateway's binary (`gateway/`), built with Debian's Go and NATS
//! packages in GOPATH mode (`.ci/run` installs them), once per test process.

use std::time::Duration;
use tokio::sync::OnceCell;

static GATEWAY: OnceCell<String> = OnceCell::const_new();

/// The gateway binary, built on first use.
pub async fn binary() -> &'static str {
    GATEWAY
        .get_or_init(|| async {
            let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
            // A build artifact beside cargo's, one per test process (they
            // build in parallel); those of earlier runs are removed.
            let dir = format!("{root}/target/test-gateway");
            std::fs::create_dir_all(&dir).unwrap();
            if let Ok(entries) = std::fs::read_dir(&dir) {
                for entry in entries.flatten() {
                    let stale = entry
                        .metadata()
                        .and_then(|m| m.modified())
                        .ok()
                        .and_then(|t| t.elapsed().ok())
                        .is_some_and(|age| age > Duration::from_secs(3600));
                    if stale {
                        let _ = std::fs::remove_file(entry.path());
                    }
                }
            }
            let out = format!("{dir}/olympus-gateway-{}", std::process::id());
            let built = tokio::process::Command::new("go")
                .args(["build", "-o", &out, "./gateway"])
                .current_dir(root)
                .env("GO111MODULE", "off")
                .env("GOPATH", "/usr/share/gocode")
                .output()
                .await
                .expect(
                    "running go (see README: the gateway needs golang-go and its Debian packages)",
                );
            assert!(
                built.status.success(),
                "go build: {}",
                String::from_utf8_lossy(&built.stderr)
            );
            out
        })
        .await
}
