//! Black-box test of the real binary with an SSE reader that stops reading: the gateway does
//! not hold the reader's backlog in memory (it stays in the event log, which is bounded),
//! and a reader that comes back gets what the log still holds, in order.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code may fail loudly

mod support;

use std::time::Duration;

use futures_util::StreamExt;
use serde_json::json;
use support::gateway::GatewayProcess;
use support::noetl::{NoetlStandIn, SILENT};
use support::sse::SseClient;
use tokio::io::AsyncWriteExt;

const CALLBACKS: u64 = 10_000;
const MESSAGE_BYTES: usize = 4096;

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("VmRSS in /proc/<pid>/status")
}

#[tokio::test]
async fn a_reader_that_stops_reading_does_not_make_the_gateway_hold_its_backlog() {
    let standin = NoetlStandIn::start().await;
    let token = standin.add_session(38, "slow@example.com", json!([]));
    let gw = GatewayProcess::spawn(&[
        ("NATS_URL", "memory".into()),
        ("NOETL_BASE_URL", standin.base_url()),
        ("RUST_LOG", "warn".into()),
    ]);
    let (public, internal) = (
        format!("http://{}", gw.public),
        format!("http://{}", gw.internal),
    );
    let http = reqwest::Client::new();
    let healthy = support::eventually(Duration::from_secs(20), || async {
        let answer = http.get(format!("{public}/health")).send().await;
        answer.is_ok_and(|r| r.status().is_success())
    })
    .await;
    assert!(healthy, "the gateway answers /health");

    let vars = json!({"delay_ms": 600000});
    let started = support::execute_playbook(&http, &public, &token, SILENT, "stuck", vars).await;
    let request_id = started["data"]["executePlaybook"]["requestId"]
        .as_str()
        .expect("a request id")
        .to_owned();

    // A reader that asks for its stream and then never reads a byte.
    let mut stuck = tokio::net::TcpStream::connect(gw.public).await.unwrap();
    let ask =
        format!("GET /events?session_token={token}&client_id=stuck HTTP/1.1\r\nHost: gw\r\n\r\n");
    stuck.write_all(ask.as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = rss_kib(gw.child.id());

    let message = "m".repeat(MESSAGE_BYTES);
    let url = format!("{internal}/api/internal/progress");
    // One at a time, so that the log's order is the order of `n`.
    let statuses: Vec<u16> = futures_util::stream::iter(0..CALLBACKS)
        .map(|n| {
            let body = json!({"request_id": request_id, "progress": n, "message": message});
            let req = http.post(&url).json(&body).send();
            async move { req.await.map_or(0, |r| r.status().as_u16()) }
        })
        .buffered(1)
        .collect()
        .await;
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 202),
        "every progress report is taken"
    );
    let grown_mib = rss_kib(gw.child.id()).saturating_sub(before) / 1024;
    let posted_mib = CALLBACKS * MESSAGE_BYTES as u64 / (1024 * 1024);
    eprintln!("RSS grew by {grown_mib} MiB while {posted_mib} MiB of frames were posted");
    assert!(
        grown_mib < 16,
        "the gateway grew by {grown_mib} MiB while {posted_mib} MiB of frames waited for a reader that does not read"
    );

    // The reader comes back: what the log still holds arrives, in order, up to the newest.
    drop(stuck);
    let mut back = SseClient::connect(http.get(format!(
        "{public}/events?session_token={token}&client_id=stuck"
    )))
    .await;
    let mut seen = Vec::new();
    while let Some(frame) = back.next_within(Duration::from_secs(10)).await {
        if frame.event != "playbook/progress" {
            continue;
        }
        let n = frame.data["params"]["progress"].as_u64().unwrap();
        seen.push(n);
        if n == CALLBACKS - 1 {
            break;
        }
    }
    assert_eq!(
        seen.last(),
        Some(&(CALLBACKS - 1)),
        "the newest report arrives"
    );
    assert!(
        seen.windows(2).all(|w| w[1] == w[0] + 1),
        "in order, without gaps or repeats, from where the log starts ({} frames)",
        seen.len()
    );
}
