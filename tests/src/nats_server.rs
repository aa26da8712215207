//! A private `nats-server` for one test, to stop and restart at will
//! (the shared server must stay up for the other tests).

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;
use tokio::process::{Child, Command};

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
        Self::start_with(Some((conf, env))).await
    }

    async fn start_with(config: Option<(String, Vec<(String, String)>)>) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let store =
            std::env::temp_dir().join(format!("olympus-nats-{}", uuid::Uuid::new_v4().simple()));
        let config = config.map(|(text, env)| {
            std::fs::create_dir_all(&store).expect("the store directory");
            let path = store.join("nats-server.conf");
            std::fs::write(&path, text).expect("writing the configuration");
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
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", self.port))
                .await
                .is_ok()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("nats-server did not listen on {}", self.port);
    }
}

impl Drop for PrivateNats {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.start_kill();
        }
        let _ = std::fs::remove_dir_all(&self.store);
    }
}
