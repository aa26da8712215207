//! Real `olympus` processes (the same entry point as the shipped binary),
//! for what only a process can show: the ready line, signals, logs.

use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;

use crate::app::TestApp;

/// A running `olympus serve`, killed when dropped.
pub struct Process {
    child: Child,
    lines: mpsc::UnboundedReceiver<String>,
    /// Every line it logged so far.
    pub log: Vec<String>,
}

impl TestApp {
    /// Starts `olympus serve` (the binary at `program`, i.e.
    /// `env!("CARGO_BIN_EXE_olympus-e2e")` in a test) on this test's database
    /// and prefix, with extra arguments, and waits for its ready line.
    pub async fn serve_process(&self, program: &str, args: &[&str]) -> Process {
        self.serve_process_with(program, args, &[]).await
    }

    /// [`TestApp::serve_process`] with environment variables set or
    /// replaced (e.g. another `NATS_URL`).
    pub async fn serve_process_with(
        &self,
        program: &str,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> Process {
        let config = self.config();
        let mut command = Command::new(program);
        command
            .arg("serve")
            .args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("DATABASE_URL", &config.database_url)
            .env("NATS_URL", &config.nats_url)
            .env("OLYMPUS_SUBJECT_PREFIX", &config.subject_prefix)
            .env("OLYMPUS_ARGON2_CONCURRENCY", "2")
            .env("OLYMPUS_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        if let Some(key) = config.key_encryption_key.as_deref() {
            command.env("OLYMPUS_KEY_ENCRYPTION_KEY", key);
        }
        if let Some(keys) = config.legacy_hs256_keys.as_deref() {
            command.env("OLYMPUS_LEGACY_HS256_KEYS", keys);
        }
        command.envs(env.iter().copied());
        let mut child = command.spawn().expect("starting olympus serve");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, lines) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut reader = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = reader.next_line().await {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut process = Process {
            child,
            lines,
            log: Vec::new(),
        };
        process
            .wait_for_line("olympus ready", Duration::from_secs(60))
            .await;
        process
    }
}

impl Process {
    /// Waits until a logged line contains `needle`; panics with the log if
    /// it does not come in time.
    pub async fn wait_for_line(&mut self, needle: &str, timeout: Duration) {
        let deadline = tokio::time::Instant::now() + timeout;
        if self.log.iter().any(|l| l.contains(needle)) {
            return;
        }
        loop {
            match tokio::time::timeout_at(deadline, self.lines.recv()).await {
                Ok(Some(line)) => {
                    let found = line.contains(needle);
                    self.log.push(line);
                    if found {
                        return;
                    }
                }
                Ok(None) | Err(_) => panic!(
                    "olympus never logged {needle:?}; its log:\n{}",
                    self.log.join("\n")
                ),
            }
        }
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id().expect("running")
    }

    /// Sends SIGTERM and waits for the exit status; collects the rest of
    /// the log.
    pub async fn terminate(&mut self) -> std::process::ExitStatus {
        self.stop_with("TERM").await
    }

    /// Sends SIGINT (Ctrl-C) and waits, as [`Process::terminate`].
    pub async fn interrupt(&mut self) -> std::process::ExitStatus {
        self.stop_with("INT").await
    }

    async fn stop_with(&mut self, signal: &str) -> std::process::ExitStatus {
        let pid = self.child.id().expect("running");
        let status = std::process::Command::new("kill")
            .args([&format!("-{signal}"), &pid.to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
        let status = tokio::time::timeout(Duration::from_secs(30), self.child.wait())
            .await
            .unwrap_or_else(|_| panic!("olympus exits within 30 s of SIG{signal}"))
            .expect("wait");
        while let Ok(Some(line)) =
            tokio::time::timeout(Duration::from_millis(500), self.lines.recv()).await
        {
            self.log.push(line);
        }
        status
    }

    /// Kills the process at once (SIGKILL).
    pub async fn kill(&mut self) {
        let _ = self.child.kill().await;
    }
}

/// The `key=value` fields of the line of an `olympus bench --mix` report
/// that starts with `prefix` (e.g. `"  total: "`, `"orders: "`).
pub fn report_fields(report: &str, prefix: &str) -> std::collections::HashMap<String, String> {
    let line = report
        .lines()
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no line {prefix:?} in:\n{report}"));
    line[prefix.len()..]
        .split_whitespace()
        .filter_map(|f| f.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}
