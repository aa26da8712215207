//! A private `nats-server` for one test, to stop and restart at will
//! (the shared server must stay up for the other tests).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::process::{Child, Command};

/// A configuration to start with: the main file's text, the files it
/// includes (name, text), and the environment it reads.
struct Config {
    main: String,
    others: Vec<(String, String)>,
    env: Vec<(String, String)>,
}

/// A nats-server with JetStream on a port of its own.
pub struct PrivateNats {
    pub port: u16,
    store: PathBuf,
    /// A configuration file and the environment it reads, if any.
    config: Option<(PathBuf, Vec<(String, String)>)>,
    child: Option<Child>,
}

impl PrivateNats {
    /// Starts one on a free port with an empty store.
    pub async fn start() -> Self {
        Self::start_with(None).await
    }

    /// Starts one with the configuration file `conf` (its port, monitoring
    /// port and JetStream store dropped for this server's own) and the environment
    /// variables it reads (e.g. passwords).
    pub async fn start_with_config(conf: &str, env: &[(&str, &str)]) -> Self {
        Self::start_with_config_files(conf, &[], env).await
    }

    /// Starts one with `dir`'s `nats-server.conf` as
    /// [`PrivateNats::start_with_config`] does, and the other `*.conf` files
    /// of `dir` beside it, as they are, for its `include`s.
    pub async fn start_with_config_dir(dir: &Path, env: &[(&str, &str)]) -> Self {
        let read = |path: &Path| {
            std::fs::read_to_string(path)
                .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
        };
        let main = read(&dir.join("nats-server.conf"));
        let mut others = Vec::new();
        for entry in std::fs::read_dir(dir).expect("the configuration directory") {
            let path = entry.expect("a directory entry").path();
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default()
                .to_owned();
            if name.ends_with(".conf") && name != "nats-server.conf" && path.is_file() {
                others.push((name, read(&path)));
            }
        }
        Self::start_with_config_files(&main, &others, env).await
    }

    /// The repository's nats/ (nats-server.conf and what it includes).
    pub async fn start_shipped(env: &[(&str, &str)]) -> Self {
        Self::start_with_config_dir(&shipped_config_dir(), env).await
    }

    async fn start_with_config_files(
        conf: &str,
        others: &[(String, String)],
        env: &[(&str, &str)],
    ) -> Self {
        let conf: String = conf
            .lines()
            .filter(|line| {
                let line = line.trim_start();
                !["port:", "http_port:", "store_dir:"]
                    .iter()
                    .any(|key| line.starts_with(key))
            })
            .map(|line| format!("{line}\n"))
            .collect();
        let env = env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Self::start_with(Some(Config {
            main: conf,
            others: others.to_vec(),
            env,
        }))
        .await
    }

    async fn start_with(config: Option<Config>) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let store =
            std::env::temp_dir().join(format!("olympus-nats-{}", uuid::Uuid::new_v4().simple()));
        let config = config.map(|Config { main, others, env }| {
            std::fs::create_dir_all(&store).expect("the store directory");
            let path = store.join("nats-server.conf");
            std::fs::write(&path, main).expect("writing the configuration");
            for (name, text) in others {
                std::fs::write(store.join(name), text).expect("writing an included file");
            }
            (path, env)
        });
        let mut server = Self {
            port,
            store,
            config,
            child: None,
        };
        server.resume().await;
        server
    }

    /// `nats://127.0.0.1:{port}`.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Kills the server (its JetStream store stays).
    pub async fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill().await;
        }
    }

    /// Starts it again on the same port and store.
    pub async fn resume(&mut self) {
        // NATS_SERVER_BIN, else `nats-server` on PATH, else Debian's location.
        let candidates = std::env::var("NATS_SERVER_BIN")
            .into_iter()
            .chain(["nats-server".to_owned(), "/usr/sbin/nats-server".to_owned()]);
        let child = candidates
            .filter_map(|binary| {
                let mut command = Command::new(binary);
                if let Some((path, env)) = &self.config {
                    command.arg("-c").arg(path).envs(env.iter().cloned());
                }
                command
                    .args([
                        "-a",
                        "127.0.0.1",
                        "-p",
                        &self.port.to_string(),
                        "-js",
                        "-sd",
                    ])
                    .arg(&self.store)
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .kill_on_drop(true)
                    .spawn()
                    .ok()
            })
            .next()
            .expect("starting nats-server (set NATS_SERVER_BIN)");
        self.child = Some(child);
        assert!(
            crate::listening(self.port, Duration::from_secs(5)).await,
            "nats-server did not listen on {}",
            self.port
        );
    }
}

/// The repository's `nats/` directory.
pub fn shipped_config_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../nats")
}

impl Drop for PrivateNats {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.start_kill();
        }
        let _ = std::fs::remove_dir_all(&self.store);
    }
}

/// The passwords of the shipped configuration's fixed users, as the
/// environment variables it reads.
pub const SHIPPED_PASSWORDS: [(&str, &str); 5] = [
    ("NATS_OLYMPUS_PASSWORD", "workers-pw"),
    ("NATS_RELAY_PASSWORD", "relay-pw"),
    ("NATS_GATEWAY_1_PASSWORD", "gateway-1-pw"),
    ("NATS_SERVICES_PASSWORD", "services-pw"),
    ("NATS_MAILER_PASSWORD", "mailer-pw"),
];

/// `nats://{user}:{password}@127.0.0.1:{port}`.
pub fn url_as(port: u16, user: &str, password: &str) -> String {
    format!("nats://{user}:{password}@127.0.0.1:{port}")
}

/// The environment of an `olympus serve` on the shipped configuration, as
/// docker-compose.yml gives it (with SHIPPED_PASSWORDS).
pub fn shipped_serve_env(port: u16) -> Vec<(&'static str, String)> {
    vec![
        ("NATS_URL", url_as(port, "olympus", "workers-pw")),
        (
            "OLYMPUS_RELAY_NATS_URL",
            url_as(port, "olympus-relay", "relay-pw"),
        ),
        ("OLYMPUS_NATS_INBOX_PREFIX", "_INBOX_olympus".into()),
        (
            "OLYMPUS_REPLY_PREFIXES",
            "_INBOX_gateway.,_INBOX_ops.".into(),
        ),
        ("OLYMPUS_SUBJECT_PREFIX", "olympus".into()),
        ("OLYMPUS_SUBSCRIBERS_API", "$JS.subscribers.API".into()),
        ("OLYMPUS_MAILER_CONSUMER", "mailer".into()),
    ]
}
