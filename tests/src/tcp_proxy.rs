//! A TCP proxy between a process and its database that can stop
//! forwarding, as a network partition does: the process's sockets stay
//! open and writable, but nothing comes back (half-open connections), and
//! new connections are accepted but never reach the other side. No root
//! tricks (iptables/nft) needed, so the test runs wherever the suite does.
//! It can also be pointed at another upstream, as a failover's DNS name or
//! virtual IP moves to the promoted standby.

use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// Forwards `127.0.0.1:{port}` to an upstream port until dropped.
pub struct TcpProxy {
    pub port: u16,
    upstream: Arc<AtomicU16>,
    cut: Arc<watch::Sender<bool>>,
    accepting: tokio::task::JoinHandle<()>,
}

impl TcpProxy {
    /// Listens on a free port and forwards each connection to
    /// `127.0.0.1:{upstream}`.
    pub async fn start(upstream: u16) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a free port");
        let port = listener.local_addr().expect("its address").port();
        let cut = Arc::new(watch::channel(false).0);
        let forwarding = Arc::clone(&cut);
        let upstream = Arc::new(AtomicU16::new(upstream));
        let target = Arc::clone(&upstream);
        let accepting = tokio::spawn(async move {
            let mut pumps = tokio::task::JoinSet::new();
            while let Ok((client, _)) = listener.accept().await {
                let cut = forwarding.subscribe();
                let target = Arc::clone(&target);
                pumps.spawn(async move {
                    // A connection made while cut waits, unanswered.
                    healed(cut.clone()).await;
                    let upstream = target.load(Ordering::SeqCst);
                    let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)).await else {
                        return;
                    };
                    let (client_read, client_write) = client.into_split();
                    let (server_read, server_write) = server.into_split();
                    tokio::join!(
                        pump(client_read, server_write, cut.clone()),
                        pump(server_read, client_write, cut),
                    );
                });
            }
        });
        Self {
            port,
            upstream,
            cut,
            accepting,
        }
    }

    /// Forwards new connections to `127.0.0.1:{upstream}` from now on
    /// (those open stay where they are, until their server ends them).
    pub fn point_to(&self, upstream: u16) {
        self.upstream.store(upstream, Ordering::SeqCst);
    }

    /// Stops forwarding in both directions, on open and new connections.
    pub fn cut(&self) {
        self.cut.send_replace(true);
    }

    /// Forwards again: what was held back is delivered, as packets are
    /// retransmitted once a partition heals.
    pub fn heal(&self) {
        self.cut.send_replace(false);
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        // Ends the listener; the pumps end with it (the JoinSet aborts them).
        self.accepting.abort();
    }
}

async fn healed(mut cut: watch::Receiver<bool>) {
    let _ = cut.wait_for(|cut| !*cut).await;
}

/// Copies `from` to `to` while not cut; ends at EOF or an error.
async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    cut: watch::Receiver<bool>,
) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        healed(cut.clone()).await;
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        // Read just before the cut: held back until it heals.
        healed(cut.clone()).await;
        if to.write_all(&buf[..n]).await.is_err() {
            break;
        }
    }
    let _ = to.shutdown().await;
}
