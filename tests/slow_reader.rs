//! Black-box tests with an SSE reader that stops reading: the gateway (the real binary) does
//! not hold the reader's backlog in memory (it stays in the event log, which is bounded), a
//! reader that comes back gets what the log still holds, in order; and a reader that takes
//! nothing for the send timeout is disconnected and resumes from its last event id.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code may fail loudly

mod support;

use std::time::Duration;

use futures_util::StreamExt;
use serde_json::json;
use support::gateway::{GatewayProcess, TestGateway};
use support::noetl::{NoetlStandIn, SILENT};
use support::sse::SseClient;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

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

/// The id and progress number of the last whole frame in what a raw HTTP/1.1 reader got.
fn last_whole_frame(raw: &str) -> (String, u64) {
    let mut blocks: Vec<&str> = raw.split("\n\n").collect();
    blocks.pop(); // cut off mid-frame, or empty
    blocks
        .iter()
        .rev()
        .find_map(|block| {
            let id = block.lines().find_map(|l| l.strip_prefix("id: "))?;
            let data = block.lines().find_map(|l| l.strip_prefix("data: "))?;
            let data: serde_json::Value = serde_json::from_str(data).ok()?;
            let n = data["params"]["progress"].as_u64()?;
            Some((id.to_owned(), n))
        })
        .expect("at least one progress frame arrived before the reader stalled")
}

#[tokio::test]
async fn a_reader_that_takes_nothing_for_the_send_timeout_is_disconnected_and_resumes() {
    const REPORTS: u64 = 600;
    let standin = NoetlStandIn::start().await;
    let token = standin.add_session(39, "frozen@example.com", json!([]));
    let gw = TestGateway::beside(&standin, |raw| {
        raw.gateway_send_timeout_secs = 1;
    })
    .await;
    let public = gw.public("");
    let vars = json!({"delay_ms": 600000});
    let started =
        support::execute_playbook(&gw.http, &public, &token, SILENT, "frozen", vars).await;
    let request_id = started["data"]["executePlaybook"]["requestId"]
        .as_str()
        .expect("a request id")
        .to_owned();

    let mut frozen = tokio::net::TcpStream::connect(gw.app.public_addr)
        .await
        .unwrap();
    let ask =
        format!("GET /events?session_token={token}&client_id=frozen HTTP/1.1\r\nHost: gw\r\n\r\n");
    frozen.write_all(ask.as_bytes()).await.unwrap();
    // About 9 MiB of frames: more than the socket buffers take from a reader that never reads.
    let message = "f".repeat(16 * 1024);
    for n in 0..REPORTS {
        let body = json!({"request_id": request_id, "progress": n, "message": message});
        let status = gw
            .http
            .post(gw.internal("/api/internal/progress"))
            .json(&body)
            .send()
            .await
            .unwrap()
            .status();
        assert!(status.is_success(), "report {n}: {status}");
    }
    tokio::time::sleep(Duration::from_secs(3)).await;

    // The gateway has given up on the frozen reader: what was in flight, then the end.
    let mut got = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), frozen.read_to_end(&mut got))
        .await
        .expect("the gateway closed the frozen reader's connection")
        .expect("a clean end of the stream");
    let (last_id, last_n) = last_whole_frame(&String::from_utf8_lossy(&got));
    assert!(
        last_n + 1 < REPORTS,
        "the reader had fallen behind (at {last_n})"
    );

    // It resumes where it was, on a new connection, and gets the rest once, in order.
    let mut back = SseClient::connect(
        gw.http
            .get(gw.public("/events?client_id=frozen"))
            .header("cookie", format!("session_token={token}"))
            .header("last-event-id", &last_id),
    )
    .await;
    let mut next = last_n + 1;
    while next < REPORTS {
        let frame = back
            .next_within(Duration::from_secs(10))
            .await
            .unwrap_or_else(|| panic!("report {next} arrives after the resume"));
        if frame.event == "playbook/progress" {
            assert_eq!(frame.data["params"]["progress"], next, "in order, once");
            next += 1;
        }
    }
}
