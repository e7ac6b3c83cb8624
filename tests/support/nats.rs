//! Test harness: a real `nats-server -js` on a free loopback port with its own store
//! directory, which a test can kill and restart on the same port and store; and a cluster
//! of three such servers routed to each other on loopback.

use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct NatsServer {
    port: u16,
    store: tempfile::TempDir,
    child: Option<Child>,
    binary: PathBuf,
    /// Cluster arguments, for a node of a cluster.
    cluster_args: Vec<String>,
}

fn find_binary() -> PathBuf {
    let candidates = [
        "/usr/sbin/nats-server",
        "/usr/bin/nats-server",
        "/usr/local/bin/nats-server",
    ];
    if let Some(found) = candidates.iter().map(PathBuf::from).find(|p| p.is_file()) {
        return found;
    }
    if let Ok(path) = std::env::var("PATH") {
        for dir in std::env::split_paths(&path) {
            let p = dir.join("nats-server");
            if p.is_file() {
                return p;
            }
        }
    }
    panic!(
        "nats-server is not installed: the black-box tests need a real NATS server. \
         Install it with `apt-get install -y nats-server` (the .ci/run script does this)."
    );
}

impl NatsServer {
    /// Starts a JetStream-enabled server and waits until it accepts connections.
    pub fn start() -> Self {
        let mut server = Self::unstarted(super::free_port(), Vec::new());
        server.spawn();
        server
    }

    fn unstarted(port: u16, cluster_args: Vec<String>) -> Self {
        Self {
            port,
            store: tempfile::tempdir().expect("a temporary store dir"),
            child: None,
            binary: find_binary(),
            cluster_args,
        }
    }

    fn spawn(&mut self) {
        let child = Command::new(&self.binary)
            .args([
                "-js",
                "-a",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-sd",
            ])
            .arg(self.store.path())
            .args(&self.cluster_args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nats-server starts");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "nats-server did not listen on port {} within 10 s",
                self.port
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Kills the server (SIGKILL) and waits for it to exit.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stops the server without closing its connections (SIGSTOP): clients stay connected
    /// and every request goes unanswered, as when a cluster has no leader to answer.
    pub fn pause(&self) {
        self.signal("-STOP");
    }

    /// Lets a paused server run again (SIGCONT).
    pub fn resume(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, which: &str) {
        let child = self.child.as_ref().expect("the server is running");
        super::signal(child.id(), which);
    }

    /// Starts the server again on the same port and store.
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Three JetStream servers clustered on loopback: each routes to the other two.
pub struct NatsCluster {
    pub nodes: Vec<NatsServer>,
}

impl NatsCluster {
    pub fn start() -> Self {
        let ports = super::free_ports::<6>();
        let (client_ports, route_ports) = ports.split_at(3);
        let routes = route_ports
            .iter()
            .map(|p| format!("nats://127.0.0.1:{p}"))
            .collect::<Vec<_>>()
            .join(",");
        let mut nodes: Vec<NatsServer> = (0..3)
            .map(|i| {
                let args = vec![
                    "--server_name".to_owned(),
                    format!("n{i}"),
                    "--cluster_name".to_owned(),
                    "gateway-test".to_owned(),
                    "--cluster".to_owned(),
                    format!("nats://127.0.0.1:{}", route_ports[i]),
                    "--routes".to_owned(),
                    routes.clone(),
                ];
                NatsServer::unstarted(client_ports[i], args)
            })
            .collect();
        for node in &mut nodes {
            node.spawn();
        }
        Self { nodes }
    }

    /// Every node's client URL, comma-separated (the gateway's `NATS_URL` for a cluster).
    pub fn url(&self) -> String {
        self.nodes
            .iter()
            .map(NatsServer::url)
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The index of the node that leads `stream` now (its raft group's leader).
    pub async fn stream_leader(&self, stream: &str) -> usize {
        let client = async_nats::connect(self.nodes[0].url())
            .await
            .expect("cluster reachable");
        let js = async_nats::jetstream::new(client);
        let info = js
            .get_stream(stream)
            .await
            .expect("stream exists")
            .get_info()
            .await
            .expect("stream info");
        let leader = info
            .cluster
            .and_then(|c| c.leader)
            .expect("stream has a leader");
        self.index_of(&leader)
    }

    /// The index of the node that serves each consumer of `stream` now.
    pub async fn consumer_hosts(&self, stream: &str) -> Vec<usize> {
        use futures_util::StreamExt;
        let nodes = self
            .nodes
            .iter()
            .map(|n| n.url().parse::<async_nats::ServerAddr>().expect("node url"))
            .collect::<Vec<_>>();
        let client = async_nats::connect(nodes).await.expect("cluster reachable");
        let js = async_nats::jetstream::new(client);
        let stream = js.get_stream(stream).await.expect("stream exists");
        let mut consumers = stream.consumers();
        let mut hosts = Vec::new();
        while let Some(info) = consumers.next().await {
            let host = info
                .expect("consumer info")
                .cluster
                .and_then(|c| c.leader)
                .expect("consumer has a host");
            hosts.push(self.index_of(&host));
        }
        hosts
    }

    fn index_of(&self, server_name: &str) -> usize {
        (0..self.nodes.len())
            .find(|i| server_name == format!("n{i}"))
            .unwrap_or_else(|| panic!("{server_name} is a node of this cluster"))
    }

    /// Waits until JetStream has a meta leader and accepts a replicated stream.
    pub async fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(client) = async_nats::connect(self.nodes[0].url()).await {
                let js = async_nats::jetstream::new(client);
                let probe = js
                    .get_or_create_stream(async_nats::jetstream::stream::Config {
                        name: "cluster-ready-probe".into(),
                        subjects: vec!["cluster-ready-probe".into()],
                        num_replicas: 3,
                        ..Default::default()
                    })
                    .await;
                if probe.is_ok() && js.delete_stream("cluster-ready-probe").await.is_ok() {
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "the NATS cluster did not form within 30 s"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}
