//! Black-box tests of the HTTP server under the routes: HTTP/2 with prior knowledge beside
//! HTTP/1.1 on the same listener, and how open connections end when the gateway drains.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code may fail loudly

mod support;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::{TokioExecutor, TokioIo};
use noetl_gateway::app::config::RawConfig;
use serde_json::{Value, json};
use support::{NoetlStandIn, TestGateway, base_raw_config, read_until};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[tokio::test]
async fn http2_with_prior_knowledge_is_served_on_the_public_listener() {
    let gw = TestGateway::start(base_raw_config("http://127.0.0.1:9", None)).await;
    let (mut send, _conn) = http2(&gw).await;
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
    let (mut send, _conn) = http2(&gw).await;
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

/// A gateway that closes connections after one second without a request in flight.
async fn with_one_second_idle() -> TestGateway {
    TestGateway::start(one_second_idle()).await
}

/// The settings of `with_one_second_idle`.
fn one_second_idle() -> RawConfig {
    let mut raw = base_raw_config("http://127.0.0.1:9", None);
    raw.gateway_idle_timeout_secs = 1;
    raw.gateway_heartbeat_interval_secs = 1;
    raw
}

/// An HTTP/2 connection (prior knowledge) to the gateway's public listener, driven by its
/// own task.
async fn http2<B>(
    gw: &TestGateway,
) -> (
    hyper::client::conn::http2::SendRequest<B>,
    tokio::task::JoinHandle<hyper::Result<()>>,
)
where
    B: hyper::body::Body + Send + Unpin + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let tcp = TcpStream::connect(gw.app.public_addr).await.unwrap();
    let (send, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tcp))
            .await
            .expect("HTTP/2 handshake");
    (send, tokio::spawn(conn))
}

/// A plain TCP connection to the gateway's public listener, split for reading and writing.
async fn open(
    gw: &TestGateway,
) -> (
    tokio::net::tcp::OwnedReadHalf,
    tokio::net::tcp::OwnedWriteHalf,
) {
    TcpStream::connect(gw.app.public_addr)
        .await
        .unwrap()
        .into_split()
}

/// Reads `conn` until the gateway closes it (or resets it), for at most `within`; what was
/// read, or `None` when the connection was still open at the end.
async fn until_closed(
    conn: &mut tokio::net::tcp::OwnedReadHalf,
    within: Duration,
) -> Option<Vec<u8>> {
    let mut got = Vec::new();
    match tokio::time::timeout(within, conn.read_to_end(&mut got)).await {
        Ok(_) => Some(got),
        Err(_) => None,
    }
}

#[tokio::test]
async fn a_client_that_sends_its_head_too_slowly_is_disconnected() {
    let gw = with_one_second_idle().await;
    let (mut read, mut write) = open(&gw).await;
    let started = Instant::now();
    write
        .write_all(b"GET /health HTTP/1.1\r\nhost: gw\r\n")
        .await
        .unwrap();
    // A header line every 200 ms: the connection is never silent, its head never complete.
    let trickle = tokio::spawn(async move {
        for n in 0..50 {
            tokio::time::sleep(Duration::from_millis(200)).await;
            let line = format!("x-slow-{n}: 1\r\n");
            if write.write_all(line.as_bytes()).await.is_err() {
                return;
            }
        }
    });
    let got = until_closed(&mut read, Duration::from_secs(8))
        .await
        .expect("the gateway closed the connection");
    let elapsed = started.elapsed();
    trickle.abort();
    // One second without a request, at most a quarter more, and a second's grace.
    assert!(
        elapsed >= Duration::from_millis(900) && elapsed < Duration::from_secs(4),
        "closed at the idle timeout: {elapsed:?}"
    );
    assert!(
        got.is_empty(),
        "an unfinished head gets no answer: {:?}",
        String::from_utf8_lossy(&got)
    );
}

#[tokio::test]
async fn a_kept_alive_connection_is_closed_after_idling_for_the_idle_timeout() {
    let gw = with_one_second_idle().await;
    let (mut read, mut write) = open(&gw).await;
    let ask = b"GET /health HTTP/1.1\r\nhost: gw\r\n\r\n";
    // Requests spaced by less than the timeout keep the connection.
    let mut answered = 0;
    for _ in 0..3 {
        write.write_all(ask).await.unwrap();
        let mut buf = vec![0u8; 4096];
        let n = tokio::time::timeout(Duration::from_secs(5), read.read(&mut buf))
            .await
            .expect("an answer")
            .expect("a read");
        let head = String::from_utf8_lossy(&buf[..n]);
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        answered += 1;
        tokio::time::sleep(Duration::from_millis(600)).await;
    }
    assert_eq!(
        answered, 3,
        "three requests on one connection, 600 ms apart"
    );
    // Then silence: the connection is closed about a second after the last answer.
    let idle_from = Instant::now();
    let got = until_closed(&mut read, Duration::from_secs(5))
        .await
        .expect("the gateway closed the idle connection");
    assert!(got.is_empty(), "{:?}", String::from_utf8_lossy(&got));
    assert!(
        idle_from.elapsed() < Duration::from_secs(3),
        "closed about 1 s after the last answer (600 ms of it already spent): {:?}",
        idle_from.elapsed()
    );
}

#[tokio::test]
async fn an_event_stream_outlives_the_idle_timeout() {
    let standin = NoetlStandIn::start().await;
    let token = standin.add_session(41, "long@example.com", json!([]));
    let mut raw = base_raw_config(&standin.base_url(), None);
    raw.gateway_idle_timeout_secs = 1;
    raw.gateway_heartbeat_interval_secs = 1;
    let gw = TestGateway::start(raw).await;
    let mut sse = support::sse::SseClient::connect(
        gw.http
            .get(gw.public("/events?client_id=long"))
            .header("cookie", format!("session_token={token}")),
    )
    .await;
    assert_eq!(sse.status, 200);
    let started = Instant::now();
    let mut pings = 0;
    while started.elapsed() < Duration::from_secs(4) {
        let frame = sse
            .next_within(Duration::from_secs(3))
            .await
            .unwrap_or_else(|| panic!("the stream still flows at {:?}", started.elapsed()));
        if frame.event == "ping" {
            pings += 1;
        }
    }
    assert!(
        pings >= 3,
        "pings kept coming for four header timeouts: {pings}"
    );
}

#[tokio::test]
async fn an_http2_connection_without_streams_is_closed_after_the_idle_timeout() {
    let gw = with_one_second_idle().await;
    let (mut send, conn) = http2(&gw).await;
    let request = hyper::Request::get(gw.public("/health"))
        .body(Empty::<Bytes>::new())
        .unwrap();
    let response = send.send_request(request).await.expect("an answer");
    assert_eq!(response.status(), 200);
    response.into_body().collect().await.unwrap();
    let answered = Instant::now();
    tokio::time::timeout(Duration::from_secs(5), conn)
        .await
        .expect("the gateway ended the idle HTTP/2 connection")
        .unwrap()
        .ok();
    assert!(
        answered.elapsed() >= Duration::from_millis(900),
        "not before the idle timeout: {:?}",
        answered.elapsed()
    );
}

#[tokio::test]
async fn a_connection_that_sends_nothing_is_closed_after_the_idle_timeout() {
    let gw = with_one_second_idle().await;
    let (mut read, _write) = open(&gw).await;
    let started = Instant::now();
    let got = until_closed(&mut read, Duration::from_secs(5))
        .await
        .expect("the gateway closed the silent connection");
    assert!(got.is_empty(), "{:?}", String::from_utf8_lossy(&got));
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(900) && elapsed < Duration::from_secs(3),
        "closed at the idle timeout: {elapsed:?}"
    );
}

#[tokio::test]
async fn a_body_whose_client_stops_sending_is_answered_408() {
    let gw = with_one_second_idle().await;
    // A JSON route, and one whose body has no declared length (read whole by the limit).
    let heads = [
        "POST /api/auth/validate HTTP/1.1\r\nhost: gw\r\ncontent-type: application/json\r\ncontent-length: 200\r\n\r\n{\"token\": \"",
        "POST /api/auth/validate HTTP/1.1\r\nhost: gw\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n5\r\n{\"tok\r\n",
    ];
    for head in heads {
        let (mut read, mut write) = open(&gw).await;
        write.write_all(head.as_bytes()).await.unwrap();
        let started = Instant::now();
        let got = read_until(&mut read, "REQUEST_TIMEOUT", Duration::from_secs(8)).await;
        let elapsed = started.elapsed();
        assert!(got.starts_with("HTTP/1.1 408"), "{head}: {got}");
        assert!(got.contains("\"code\":\"REQUEST_TIMEOUT\""), "{got}");
        assert!(got.to_ascii_lowercase().contains("x-request-id:"), "{got}");
        // One second without a byte of the body, and at most a quarter more.
        assert!(
            elapsed >= Duration::from_millis(900) && elapsed < Duration::from_secs(3),
            "answered at the idle timeout: {elapsed:?}"
        );
        let rest = until_closed(&mut read, Duration::from_secs(5)).await;
        assert!(rest.is_some(), "the connection is closed after the answer");
        drop(write);
    }
}

/// A gateway that closes connections after one second without a request in flight and asks
/// a request body for `rate` bytes per second.
async fn with_one_second_idle_and_body_rate(rate: u64) -> TestGateway {
    let mut raw = one_second_idle();
    raw.gateway_min_body_bytes_per_sec = rate;
    TestGateway::start(raw).await
}

#[tokio::test]
async fn a_body_trickled_below_the_minimum_rate_is_answered_408() {
    let gw = with_one_second_idle_and_body_rate(100).await;
    let (mut read, mut write) = open(&gw).await;
    let head = "POST /api/auth/validate HTTP/1.1\r\nhost: gw\r\ncontent-type: application/json\r\ncontent-length: 200\r\n\r\n";
    write.write_all(head.as_bytes()).await.unwrap();
    let started = Instant::now();
    // Two bytes every 200 ms: never silent, but 10 bytes per second against 100.
    let trickle = support::trickle(write, b"  ", Duration::from_millis(200), 100);
    let got = read_until(&mut read, "REQUEST_TIMEOUT", Duration::from_secs(8)).await;
    let elapsed = started.elapsed();
    trickle.abort();
    assert!(got.starts_with("HTTP/1.1 408"), "{got}");
    assert!(got.contains("\"code\":\"REQUEST_TIMEOUT\""), "{got}");
    assert!(got.contains("minimum rate"), "{got}");
    assert!(got.to_ascii_lowercase().contains("x-request-id:"), "{got}");
    // One period (and at most a quarter more) after the body began to wait.
    assert!(
        elapsed >= Duration::from_millis(900) && elapsed < Duration::from_secs(3),
        "answered after one period: {elapsed:?}"
    );
}

#[tokio::test]
async fn a_slow_body_that_keeps_coming_is_read_whole() {
    // 10 bytes per second against a minimum of 4.
    let gw = with_one_second_idle_and_body_rate(4).await;
    let (mut read, mut write) = open(&gw).await;
    let body = br#"{"token": "slowly-sent-token"}"#;
    let head = format!(
        "POST /api/auth/validate HTTP/1.1\r\nhost: gw\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    write.write_all(head.as_bytes()).await.unwrap();
    // A part of the body every 300 ms, 3 s in all: three times the idle timeout.
    for part in body.chunks(3) {
        tokio::time::sleep(Duration::from_millis(300)).await;
        write.write_all(part).await.unwrap();
    }
    let got = read_until(&mut read, "\r\n\r\n", Duration::from_secs(15)).await;
    assert!(got.starts_with("HTTP/1.1 "), "answered: {got}");
    assert!(!got.starts_with("HTTP/1.1 408"), "not cut off: {got}");
    assert!(!got.contains("REQUEST_TIMEOUT"), "{got}");
}

#[tokio::test]
async fn an_http2_stream_whose_body_stops_is_answered_408_and_its_connection_serves_on() {
    let gw = with_one_second_idle().await;
    let (mut send, _conn) = http2(&gw).await;
    let (feed, chunks) = tokio::sync::mpsc::channel(1);
    feed.send(Ok::<_, std::io::Error>(hyper::body::Frame::data(
        Bytes::from_static(b"{\"token\": \""),
    )))
    .await
    .unwrap();
    let request = hyper::Request::post(gw.public("/api/auth/validate"))
        .header("content-type", "application/json")
        .header("content-length", "200")
        .body(http_body_util::StreamBody::new(
            tokio_stream::wrappers::ReceiverStream::new(chunks),
        ))
        .unwrap();
    let started = Instant::now();
    let response = tokio::time::timeout(Duration::from_secs(8), send.send_request(request))
        .await
        .expect("answered within the bound")
        .expect("a response");
    let elapsed = started.elapsed();
    assert_eq!(response.status(), 408);
    assert!(
        elapsed >= Duration::from_millis(900) && elapsed < Duration::from_secs(3),
        "answered at the idle timeout: {elapsed:?}"
    );
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body["code"], "REQUEST_TIMEOUT");
    // Only that stream failed: the connection answers the next request.
    let health = hyper::Request::get(gw.public("/health"))
        .body(http_body_util::StreamBody::new(
            tokio_stream::wrappers::ReceiverStream::new(tokio::sync::mpsc::channel(1).1),
        ))
        .unwrap();
    let response = send.send_request(health).await.expect("an answer");
    assert_eq!(response.status(), 200);
    drop(feed);
}

/// A `GET` head for `path` with one `x-filler` header that brings the whole head to `size`
/// bytes.
fn head_of_size(path: &str, size: usize) -> String {
    let start = format!("GET {path} HTTP/1.1\r\nhost: gw\r\nx-filler: ");
    let filler = "f".repeat(size - start.len() - "\r\n\r\n".len());
    format!("{start}{filler}\r\n\r\n")
}

#[tokio::test]
async fn a_head_over_32_kib_is_answered_431_in_the_error_model_and_the_connection_serves_on() {
    let gw = TestGateway::start(base_raw_config("http://127.0.0.1:9", None)).await;
    let (mut read, mut write) = open(&gw).await;
    // Where the JSON bodies of both answers end (their last field is a string).
    const END: &str = "\"}";
    // Within the limit: served.
    write
        .write_all(head_of_size("/health", 32 * 1024).as_bytes())
        .await
        .unwrap();
    let got = read_until(&mut read, END, Duration::from_secs(5)).await;
    assert!(got.starts_with("HTTP/1.1 200"), "{got}");
    // A byte over, on a public route and on the proxy's: 431 with the stable code, and the
    // connection stays usable.
    for path in ["/health", "/noetl/health"] {
        write
            .write_all(head_of_size(path, 32 * 1024 + 1).as_bytes())
            .await
            .unwrap();
        let got = read_until(&mut read, END, Duration::from_secs(5)).await;
        assert!(got.starts_with("HTTP/1.1 431"), "{path}: {got}");
        assert!(got.contains("\"code\":\"HEADERS_TOO_LARGE\""), "{got}");
        assert!(got.to_ascii_lowercase().contains("x-request-id:"), "{got}");
    }
    write
        .write_all(b"GET /health HTTP/1.1\r\nhost: gw\r\n\r\n")
        .await
        .unwrap();
    let got = read_until(&mut read, END, Duration::from_secs(5)).await;
    assert!(got.starts_with("HTTP/1.1 200"), "{got}");
}

#[tokio::test]
async fn a_head_past_what_the_server_buffers_is_refused_and_the_connection_closed() {
    let gw = TestGateway::start(base_raw_config("http://127.0.0.1:9", None)).await;
    let (mut read, mut write) = open(&gw).await;
    // A head of 80 KiB that never ends (the client stays, sending nothing more): the server
    // must refuse it at its read buffer's bound (64 KiB), not hold it and wait for more.
    let start = "GET /health HTTP/1.1\r\nhost: gw\r\nx-filler: ";
    write.write_all(start.as_bytes()).await.unwrap();
    let chunk = vec![b'f'; 16 * 1024];
    let mut sent = start.len();
    while sent < 80 * 1024 {
        if write.write_all(&chunk).await.is_err() {
            break;
        }
        sent += chunk.len();
    }
    let got = until_closed(&mut read, Duration::from_secs(5))
        .await
        .expect("the connection is closed");
    let got = String::from_utf8_lossy(&got);
    assert!(got.starts_with("HTTP/1.1 431"), "{got}");
}

#[tokio::test]
async fn an_http2_request_with_headers_over_32_kib_is_answered_431_in_the_error_model() {
    let gw = TestGateway::start(base_raw_config("http://127.0.0.1:9", None)).await;
    let (mut send, _conn) = http2(&gw).await;
    let request = hyper::Request::get(gw.public("/health"))
        .header("x-filler", "f".repeat(33 * 1024))
        .body(Empty::<Bytes>::new())
        .unwrap();
    let response = send.send_request(request).await.expect("an answer");
    assert_eq!(response.status(), 431);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body["code"], "HEADERS_TOO_LARGE");
    let request = hyper::Request::get(gw.public("/health"))
        .body(Empty::<Bytes>::new())
        .unwrap();
    let response = send.send_request(request).await.expect("an answer");
    assert_eq!(response.status(), 200);
}

/// A gateway whose public listener holds at most `bound` client connections.
async fn with_connection_bound(bound: u64) -> TestGateway {
    let mut raw = base_raw_config("http://127.0.0.1:9", None);
    raw.gateway_max_connections = bound;
    TestGateway::start(raw).await
}

/// A connection to the listener at `addr` that has had one `/health` answered, so the
/// gateway has admitted it; it is kept open.
async fn admitted(addr: SocketAddr) -> TcpStream {
    let mut conn = TcpStream::connect(addr).await.unwrap();
    conn.write_all(b"GET /health HTTP/1.1\r\nhost: gw\r\n\r\n")
        .await
        .unwrap();
    let head = read_until(&mut conn, "\r\n\r\n", Duration::from_secs(5)).await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    conn
}

/// A `/health` request on a new connection to the listener at `addr`, read until the
/// gateway closes it: the whole answer, or `None` when it kept the connection open.
async fn health_on_a_new_connection(addr: SocketAddr) -> Option<String> {
    let (mut read, mut write) = TcpStream::connect(addr).await.unwrap().into_split();
    write
        .write_all(b"GET /health HTTP/1.1\r\nhost: gw\r\nconnection: close\r\n\r\n")
        .await
        .unwrap();
    until_closed(&mut read, Duration::from_secs(5))
        .await
        .map(|got| String::from_utf8_lossy(&got).into_owned())
}

/// Whether a new connection to the listener at `addr` gets its `/health` answered within
/// 5 s (once a place is free).
async fn served_within_5s(addr: SocketAddr) -> bool {
    support::eventually(Duration::from_secs(5), || async {
        health_on_a_new_connection(addr)
            .await
            .is_some_and(|answer| answer.starts_with("HTTP/1.1 200"))
    })
    .await
}

/// The value of an unlabelled metric in the gateway's `/metrics` text.
async fn metric(gw: &TestGateway, name: &str) -> Option<String> {
    support::metric_value(&gw.metrics_text().await, name).map(str::to_owned)
}

#[tokio::test]
async fn a_connection_past_the_bound_is_answered_503_and_closed_and_a_freed_place_is_reused() {
    let gw = with_connection_bound(2).await;
    let first = admitted(gw.app.public_addr).await;
    let _second = admitted(gw.app.public_addr).await;
    let answer = health_on_a_new_connection(gw.app.public_addr)
        .await
        .expect("the refused connection is closed");
    assert_refused(&answer);
    // The internal listener's bound is its own: its metrics answer while the public one is full.
    assert_eq!(
        metric(&gw, "gateway_connections_refused_total")
            .await
            .as_deref(),
        Some("1")
    );
    assert_eq!(
        metric(&gw, "gateway_connections_open").await.as_deref(),
        Some("2")
    );
    assert_eq!(
        metric(&gw, "gateway_connections_limit").await.as_deref(),
        Some("2")
    );
    // A closed connection gives its place back.
    drop(first);
    assert!(
        served_within_5s(gw.app.public_addr).await,
        "a new connection is served once one has closed"
    );
}

/// Asserts that `answer` is the 503 refusal of a connection past a listener's bound.
fn assert_refused(answer: &str) {
    let (head, body) = answer.split_once("\r\n\r\n").expect("a whole answer");
    let head = head.to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 503"), "{head}");
    assert!(head.contains("\r\nretry-after: 1"), "{head}");
    assert!(head.contains("\r\nconnection: close"), "{head}");
    let body: Value = serde_json::from_str(body).expect("a JSON error body");
    assert_eq!(body["code"], "UNAVAILABLE", "{body}");
    let id = body["request_id"].as_str().expect("a request id");
    assert!(head.contains(&format!("\r\nx-request-id: {id}")), "{head}");
}

#[tokio::test]
async fn the_internal_listener_has_a_bound_of_its_own() {
    let mut raw = base_raw_config("http://127.0.0.1:9", None);
    raw.gateway_internal_max_connections = 2;
    let gw = TestGateway::start(raw).await;
    let internal = gw.app.internal_addr;
    let held = admitted(internal).await;
    // The test client's pooled connection for the scrape takes the second place.
    let before = gw.metrics_text().await;
    assert_eq!(
        support::metric_value(&before, "gateway_internal_connections_limit"),
        Some("2"),
        "{before}"
    );
    let answer = health_on_a_new_connection(internal)
        .await
        .expect("the refused connection is closed");
    assert_refused(&answer);
    let after = gw.metrics_text().await;
    assert_eq!(
        support::metric_value(&after, "gateway_internal_connections_refused_total"),
        Some("1"),
        "{after}"
    );
    assert_eq!(
        support::metric_value(&after, "gateway_internal_connections_open"),
        Some("2"),
        "{after}"
    );
    // The public listener's bound and counts are its own.
    assert_eq!(
        support::metric_value(&after, "gateway_connections_refused_total"),
        Some("0"),
        "{after}"
    );
    assert!(
        health_on_a_new_connection(gw.app.public_addr)
            .await
            .is_some_and(|answer| answer.starts_with("HTTP/1.1 200")),
        "the public listener still serves"
    );
    drop(held);
    assert!(
        served_within_5s(internal).await,
        "a closed internal connection gives its place back"
    );
}

#[tokio::test]
async fn an_upgraded_websocket_holds_its_place_until_it_closes() {
    let gw = with_connection_bound(1).await;
    let mut socket = TcpStream::connect(gw.app.public_addr).await.unwrap();
    socket
        .write_all(
            b"GET /graphql/ws HTTP/1.1\r\nhost: gw\r\nconnection: upgrade\r\nupgrade: websocket\r\n\
              sec-websocket-version: 13\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
              sec-websocket-protocol: graphql-transport-ws\r\n\r\n",
        )
        .await
        .unwrap();
    let head = read_until(&mut socket, "\r\n\r\n", Duration::from_secs(5)).await;
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    let refused = health_on_a_new_connection(gw.app.public_addr)
        .await
        .expect("the refused connection is closed");
    assert!(refused.starts_with("HTTP/1.1 503"), "{refused}");
    drop(socket);
    assert!(
        served_within_5s(gw.app.public_addr).await,
        "the socket's place is free once it has closed"
    );
}

#[tokio::test]
async fn an_http2_connection_past_the_bound_gets_503_in_the_error_model() {
    let gw = with_connection_bound(1).await;
    let _held = admitted(gw.app.public_addr).await;
    let (mut send, _conn) = http2(&gw).await;
    let request = hyper::Request::get(gw.public("/health"))
        .body(Empty::<Bytes>::new())
        .unwrap();
    let response = send.send_request(request).await.expect("an answer");
    assert_eq!(response.status(), 503);
    assert_eq!(response.headers()["retry-after"], "1");
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body["code"], "UNAVAILABLE", "{body}");
}
