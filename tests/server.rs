//! Black-box tests of the HTTP server under the routes: HTTP/2 with prior knowledge beside
//! HTTP/1.1 on the same listener, and how open connections end when the gateway drains.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code may fail loudly

mod support;

use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::{Value, json};
use support::{NoetlStandIn, TestGateway, base_raw_config};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[tokio::test]
async fn http2_with_prior_knowledge_is_served_on_the_public_listener() {
    let gw = TestGateway::start(base_raw_config("http://127.0.0.1:9", None)).await;
    let tcp = TcpStream::connect(gw.app.public_addr).await.unwrap();
    let (mut send, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tcp))
            .await
            .expect("HTTP/2 handshake");
    tokio::spawn(conn);
    for _ in 0..2 {
        let request = hyper::Request::get(gw.public("/health"))
            .body(Empty::<Bytes>::new())
            .unwrap();
        let response = send.send_request(request).await.expect("an answer");
        assert_eq!(response.status(), 200);
        assert_eq!(response.version(), hyper::Version::HTTP_2);
        let body = response.into_body().collect().await.unwrap().to_bytes();
        let body: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["status"], "ok");
    }
}

#[tokio::test]
async fn an_event_stream_over_http2_gets_its_frames() {
    let standin = NoetlStandIn::start().await;
    let token = standin.add_session(41, "h2@example.com", json!(["admin"]));
    let gw = TestGateway::beside(&standin, |_| {}).await;
    let tcp = TcpStream::connect(gw.app.public_addr).await.unwrap();
    let (mut send, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tcp))
            .await
            .unwrap();
    tokio::spawn(conn);
    let request = hyper::Request::get(gw.public("/events?client_id=h2-tab"))
        .header("cookie", format!("session_token={token}"))
        .body(Empty::<Bytes>::new())
        .unwrap();
    let response = send.send_request(request).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let mut body = response.into_body();
    let mut seen = String::new();
    let found = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(frame) = body.frame().await {
            if let Ok(data) = frame.unwrap().into_data() {
                seen.push_str(&String::from_utf8_lossy(&data));
            }
            if seen.contains("\n\n") {
                return true;
            }
        }
        false
    })
    .await
    .expect("the first frame arrives while the stream stays open");
    assert!(found, "{seen}");
    assert!(seen.contains(r#""clientId":"h2-tab""#), "{seen}");
}

#[tokio::test]
async fn a_request_still_unfinished_at_the_drain_deadline_is_cut_off() {
    let gw = TestGateway::start(base_raw_config("http://127.0.0.1:9", None)).await;
    // A request whose body never arrives in full keeps its handler waiting.
    let mut stalled = TcpStream::connect(gw.app.internal_addr).await.unwrap();
    stalled
        .write_all(
            b"POST /api/internal/progress HTTP/1.1\r\nhost: gw\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{\"request_id\":",
        )
        .await
        .unwrap();
    // A connection that has not sent anything yet.
    let mut idle = TcpStream::connect(gw.app.public_addr).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;

    let started = Instant::now();
    let TestGateway { app, .. } = gw;
    tokio::time::timeout(Duration::from_secs(6), app.shutdown())
        .await
        .expect("shutdown ends after the drain deadline (2 s in tests)")
        .expect("a clean stop");
    assert!(
        started.elapsed() >= Duration::from_millis(1_000),
        "the unfinished request had the drain time: {:?}",
        started.elapsed()
    );
    for (name, conn) in [("stalled", &mut stalled), ("idle", &mut idle)] {
        let mut rest = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(1), conn.read_to_end(&mut rest))
            .await
            .unwrap_or_else(|_| panic!("the {name} connection was closed"));
        assert!(
            read.is_err() || rest.is_empty(),
            "the {name} connection got no answer: {:?}",
            String::from_utf8_lossy(&rest)
        );
    }
}
