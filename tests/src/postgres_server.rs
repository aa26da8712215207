//! A private Postgres cluster for tests that stop, pause and start the
//! database (`initdb` on another port, as the postgres user), so the
//! shared server stays up for the other tests. Removed when stopped for
//! good.

use std::path::PathBuf;
use std::time::Duration;
use tokio::process::Command;

const BIN: &str = "/usr/lib/postgresql/15/bin";

/// A cluster of its own on a free port, trust authentication.
pub struct PrivatePostgres {
    pub port: u16,
    dir: PathBuf,
}

async fn as_postgres(args: &[&str]) -> std::process::Output {
    Command::new("runuser")
        .args(["-u", "postgres", "--"])
        .args(args)
        .output()
        .await
        .expect("runuser (tests run as root on these machines)")
}

/// A fresh folder under the temporary directory, owned by the postgres
/// user (where a cluster's data and socket go).
async fn postgres_owned_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("olympus-pg-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    Command::new("chown")
        .args(["postgres:postgres", &dir.to_string_lossy()])
        .status()
        .await
        .unwrap();
    dir
}

impl PrivatePostgres {
    /// Creates and starts the cluster.
    pub async fn start() -> Self {
        let port = crate::free_port();
        let dir = postgres_owned_dir().await;
        let data = dir.join("data");
        let init = as_postgres(&[
            &format!("{BIN}/initdb"),
            "-D",
            &data.to_string_lossy(),
            "-U",
            "postgres",
            "--auth=trust",
            "--no-sync",
        ])
        .await;
        assert!(
            init.status.success(),
            "initdb: {}",
            String::from_utf8_lossy(&init.stderr)
        );
        let server = Self { port, dir };
        server.resume().await;
        server
    }

    /// A synchronous standby of this cluster (`pg_basebackup -R`, streaming
    /// replication), started on a port of its own; this cluster then waits
    /// for it at every commit (`synchronous_standby_names = '*'`), so that
    /// a commit acknowledged to a client is on both.
    pub async fn synchronous_standby(&self) -> Self {
        let port = crate::free_port();
        let dir = postgres_owned_dir().await;
        let data = dir.join("data");
        let copied = as_postgres(&[
            &format!("{BIN}/pg_basebackup"),
            "-D",
            &data.to_string_lossy(),
            "-h",
            "127.0.0.1",
            "-p",
            &self.port.to_string(),
            "-U",
            "postgres",
            "-R",
            "-X",
            "stream",
            "--no-sync",
        ])
        .await;
        assert!(
            copied.status.success(),
            "pg_basebackup: {}",
            String::from_utf8_lossy(&copied.stderr)
        );
        let standby = Self { port, dir };
        standby.resume().await;
        self.sql("ALTER SYSTEM SET synchronous_standby_names = '*'")
            .await;
        self.sql("SELECT pg_reload_conf()").await;
        for _ in 0..200 {
            let state = self
                .sql("SELECT coalesce(string_agg(sync_state, ','), '') FROM pg_stat_replication")
                .await;
            if state.trim() == "sync" {
                return standby;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the standby did not become synchronous");
    }

    /// Promotes this standby to a primary and waits until it takes writes.
    pub async fn promote(&self) {
        let promoted = as_postgres(&[
            &format!("{BIN}/pg_ctl"),
            "-D",
            &self.data(),
            "-w",
            "promote",
        ])
        .await;
        assert!(
            promoted.status.success(),
            "pg_ctl promote: {}",
            String::from_utf8_lossy(&promoted.stderr)
        );
    }

    /// SIGKILL of the postmaster and every backend: a machine that dies.
    pub fn kill(&self) {
        self.signal_all("KILL");
    }

    /// Runs `statement` with psql as the superuser in the database
    /// `postgres`; its output, unaligned.
    pub async fn sql(&self, statement: &str) -> String {
        self.sql_in("postgres", statement).await
    }

    /// Runs `statement` with psql as the superuser in `database`.
    pub async fn sql_in(&self, database: &str, statement: &str) -> String {
        let port = self.port.to_string();
        let out = Command::new("psql")
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &port,
                "-U",
                "postgres",
                "-d",
                database,
                "-At",
                "-c",
                statement,
            ])
            .output()
            .await
            .expect("psql");
        assert!(
            out.status.success(),
            "{statement}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `postgres://postgres@127.0.0.1:{port}/{database}`.
    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    fn data(&self) -> String {
        self.dir.join("data").to_string_lossy().into_owned()
    }

    /// Starts (again) on the same port and data.
    pub async fn resume(&self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.dir.to_string_lossy()
        );
        let log = self.dir.join("log").to_string_lossy().into_owned();
        let started = as_postgres(&[
            &format!("{BIN}/pg_ctl"),
            "-D",
            &self.data(),
            "-o",
            &options,
            "-l",
            &log,
            "-w",
            "-t",
            "30",
            "start",
        ])
        .await;
        assert!(
            started.status.success(),
            "pg_ctl start: {}",
            String::from_utf8_lossy(&started.stderr)
        );
    }

    /// Stops at once, as a crash would (connections are cut).
    pub async fn stop(&self) {
        self.stop_with("immediate").await;
    }

    /// Stops as `systemctl stop` does (fast shutdown): sessions are ended
    /// with `57P01 admin_shutdown`, new connections are refused with "the
    /// database system is shutting down", then the port closes.
    pub async fn stop_fast(&self) {
        self.stop_with("fast").await;
    }

    async fn stop_with(&self, mode: &str) {
        let _ = as_postgres(&[
            &format!("{BIN}/pg_ctl"),
            "-D",
            &self.data(),
            "-m",
            mode,
            "-w",
            "stop",
        ])
        .await;
    }

    /// Freezes every process of the cluster (postmaster and backends) with
    /// SIGSTOP, as a stalled host or a long pause does: connections stay
    /// open and take what is sent, new ones are accepted by the kernel,
    /// and nothing answers until [`PrivatePostgres::unpause`].
    pub fn pause(&self) {
        self.signal_all("STOP");
    }

    /// Lets the processes [`PrivatePostgres::pause`] froze run again.
    pub fn unpause(&self) {
        self.signal_all("CONT");
    }

    fn signal_all(&self, signal: &str) {
        let pid_file = std::fs::read_to_string(self.dir.join("data").join("postmaster.pid"))
            .expect("postmaster.pid (the cluster runs)");
        let postmaster: u32 = pid_file
            .lines()
            .next()
            .and_then(|l| l.trim().parse().ok())
            .expect("the postmaster's pid");
        let mut pids = vec![postmaster];
        for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<u32>().ok())
            else {
                continue;
            };
            // `pid (comm) state ppid ...`; comm may hold spaces.
            let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
                continue;
            };
            let ppid = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().nth(1))
                .and_then(|p| p.parse::<u32>().ok());
            if ppid == Some(postmaster) {
                pids.push(pid);
            }
        }
        let status = std::process::Command::new("kill")
            .arg(format!("-{signal}"))
            .args(pids.iter().map(u32::to_string))
            .status()
            .expect("kill");
        assert!(status.success(), "kill -{signal} {pids:?}");
    }

    /// Stops and removes the cluster.
    pub async fn remove(self) {
        self.stop().await;
        tokio::time::sleep(Duration::from_millis(100)).await;
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
