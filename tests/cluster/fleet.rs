//! The system under test for the cluster tests: a three-node NATS cluster, the NoETL
//! stand-in, three gateway processes, and a balancer in front of their internal listeners
//! (the `gateway_url` workers call back to), as a Kubernetes Service would be.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

use crate::support::balancer::Balancer;
use crate::support::gateway::GatewayProcess;
use crate::support::{NatsCluster, NoetlStandIn};

/// How long a replica may take to open the shared buckets and stream of a cluster that has
/// just formed (each replicated stream is placed and elects a leader).
const READY_WITHIN: Duration = Duration::from_secs(20);

/// How many of its last lines each replica shows in a failure message.
const TAIL_LINES: usize = 60;

/// The public addresses clients may use now (a replica leaves the list when it goes away).
pub type Live = Arc<Mutex<Vec<(usize, SocketAddr)>>>;

pub struct Fleet {
    pub nats: NatsCluster,
    pub standin: NoetlStandIn,
    pub balancer: Balancer,
    pub gateways: Vec<Option<GatewayProcess>>,
    pub live: Live,
}

/// A client that opens a connection per request, so a request either reaches a replica
/// (and must be answered) or is refused at connect (and never reached it).
pub fn fresh_client() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(20))
        .build()
        .expect("http client")
}

impl Fleet {
    pub async fn start() -> Self {
        let nats = NatsCluster::start();
        nats.wait_ready().await;
        let standin = NoetlStandIn::start().await;
        let balancer = Balancer::start(Vec::new()).await;
        let mut fleet = Self {
            nats,
            standin,
            balancer,
            gateways: Vec::new(),
            live: Arc::new(Mutex::new(Vec::new())),
        };
        for _ in 0..3 {
            let gw = fleet.spawn();
            fleet.gateways.push(Some(gw));
        }
        for i in 0..3 {
            fleet.wait_ready(i).await;
        }
        fleet.publish();
        fleet
    }

    pub fn spawn(&self) -> GatewayProcess {
        GatewayProcess::spawn(&[
            ("NATS_URL", self.nats.url()),
            ("NATS_KV_REPLICAS", "3".into()),
            ("NOETL_BASE_URL", self.standin.base_url()),
            ("GATEWAY_INTERNAL_URL", self.balancer.url()),
            ("GATEWAY_DRAIN_SECS", "5".into()),
            ("GATEWAY_HEARTBEAT_INTERVAL_SECS", "1".into()),
            ("AUTH_PLAYBOOK_TIMEOUT_SECS", "10".into()),
            (
                "RUST_LOG",
                std::env::var("CLUSTER_LOG").unwrap_or_else(|_| "warn".into()),
            ),
        ])
    }

    /// Waits until replica `i` answers `/readyz` with NATS connected; on a failure, says
    /// what `/readyz` last answered and what each replica last printed.
    pub async fn wait_ready(&mut self, i: usize) {
        let gw = self.gateways[i].as_ref().expect("replica running");
        let url = format!("http://{}/readyz", gw.public);
        let http = fresh_client();
        let last = Mutex::new(String::from("no answer"));
        let ready = crate::support::eventually(READY_WITHIN, || async {
            let body = match http.get(&url).send().await {
                Ok(r) => r.json::<Value>().await.ok(),
                Err(_) => None,
            };
            let ready = body
                .as_ref()
                .is_some_and(|b| b["nats"] == "connected" && b["status"] == "ready");
            if let Some(body) = body {
                *last.lock().expect("last") = body.to_string();
            }
            ready
        })
        .await;
        let last = last.into_inner().expect("last");
        assert!(
            ready,
            "replica {i} became ready with NATS connected within {READY_WITHIN:?} \
             (last /readyz: {last})\n{}",
            self.tails()
        );
    }

    /// Makes the running replicas the ones clients and workers reach.
    pub fn publish(&self) {
        let running: Vec<(usize, SocketAddr, SocketAddr)> = self
            .gateways
            .iter()
            .enumerate()
            .filter_map(|(i, g)| g.as_ref().map(|g| (i, g.public, g.internal)))
            .collect();
        *self.live.lock().expect("live") = running.iter().map(|(i, p, _)| (*i, *p)).collect();
        self.balancer
            .set_backends(running.iter().map(|(_, _, internal)| *internal).collect());
    }

    /// Takes replica `i` out of the client list and the balancer (as an endpoint update
    /// does when a pod terminates).
    pub fn withdraw(&self, i: usize) {
        self.live.lock().expect("live").retain(|(n, _)| *n != i);
        let internals = self
            .gateways
            .iter()
            .enumerate()
            .filter(|(n, _)| *n != i)
            .filter_map(|(_, g)| g.as_ref().map(|g| g.internal))
            .collect();
        self.balancer.set_backends(internals);
    }

    pub fn public(&self, i: usize) -> String {
        format!(
            "http://{}",
            self.gateways[i].as_ref().expect("running").public
        )
    }

    pub fn internal(&self, i: usize) -> String {
        format!(
            "http://{}",
            self.gateways[i].as_ref().expect("running").internal
        )
    }

    /// The last lines each replica printed, for a failure message.
    pub fn tails(&mut self) -> String {
        let mut out = String::new();
        for (i, gw) in self.gateways.iter_mut().enumerate() {
            if let Some(gw) = gw {
                let all = gw.output();
                let lines: Vec<&str> = all.lines().collect();
                let from = lines.len().saturating_sub(TAIL_LINES);
                out.push_str(&format!("--- replica {i}\n{}\n", lines[from..].join("\n")));
            }
        }
        out
    }
}
