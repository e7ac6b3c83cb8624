//! Listing benchmark for `bench/pending_listing.sh`: how long the NATS request store takes
//! to list one client's pending requests (what every `/events` opening asks) while the
//! bucket holds few or many other clients' requests. Prints one JSON line.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a bench tool, not the service

#[path = "support/args.rs"]
mod args;

use args::arg;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use noetl_gateway::adapters::nats::{NatsConnection, NatsRequestStore};
use noetl_gateway::domain::{ClientId, ExecutionId, PendingRequest, PlaybookPath, RequestId};
use noetl_gateway::ports::RequestStore;

fn request(n: u64, client: &str) -> PendingRequest {
    PendingRequest {
        request_id: RequestId::parse(&format!("req-{n}")).unwrap(),
        client_id: ClientId::parse(client).unwrap(),
        session_owner: "ab".repeat(32),
        execution_id: ExecutionId::parse(&(583_140_612_000_000_000 + n).to_string()).unwrap(),
        playbook_path: PlaybookPath::parse("bench/echo").unwrap(),
        created_at: i64::try_from(n).unwrap(),
        completed: false,
    }
}

/// Median time of `rounds` listings of the probe client's requests, in microseconds.
async fn listing_us(store: &NatsRequestStore, client: &ClientId, rounds: usize) -> u128 {
    let mut times = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let started = Instant::now();
        let found = store.pending_for_client(client).await.unwrap();
        times.push(started.elapsed().as_micros());
        assert_eq!(found.len(), 3, "the probe's three requests");
    }
    times.sort_unstable();
    times[times.len() / 2]
}

#[tokio::main]
async fn main() {
    let url = arg("nats", "nats://127.0.0.1:4222");
    let others: u64 = arg("others", "20000").parse().unwrap();
    let rounds: usize = arg("rounds", "21").parse().unwrap();
    let conn = NatsConnection::start(&url, "pending-listing")
        .await
        .unwrap();
    assert!(
        conn.wait_connected(Duration::from_secs(10)).await,
        "connected to {url}"
    );
    let bucket = format!("listing{}", uuid::Uuid::new_v4().simple());
    let store = NatsRequestStore::new(conn, &bucket, Duration::from_secs(3600), 1);
    store.open().await.unwrap();
    let probe = ClientId::parse("probe").unwrap();
    for n in 0..3 {
        store.put(&request(n, "probe")).await.unwrap();
    }
    let alone = listing_us(&store, &probe, rounds).await;
    futures_util::stream::iter(100..100 + others)
        .for_each_concurrent(64, |n| {
            let store = store.clone();
            async move {
                store
                    .put(&request(n, &format!("client-{n}")))
                    .await
                    .unwrap();
            }
        })
        .await;
    let crowded = listing_us(&store, &probe, rounds).await;
    println!(
        "{{\"others\":{others},\"alone_us\":{alone},\"crowded_us\":{crowded},\"ratio\":{:.2}}}",
        crowded as f64 / alone.max(1) as f64
    );
}
