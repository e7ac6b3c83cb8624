//! Black-box tests of the streaming proxy `/noetl/{path}` against an upstream test server that
//! records what reaches it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code may fail loudly

mod support;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::{StreamExt, stream};
use poem::http::StatusCode;
use poem::web::Json;
use poem::{Body, EndpointExt, IntoResponse, Request, Response, Route, handler};
use serde_json::{Value, json};
use support::{TestGateway, base_raw_config};

const TOKEN: &str = "sess-proxy-token";

/// One request as the upstream saw it.
struct SeenRequest {
    target: String,
    received: usize,
    /// Whether the body arrived whole (not cut off by an error).
    whole: bool,
}

#[derive(Default)]
struct Seen(Mutex<Vec<SeenRequest>>);

#[handler]
async fn echo_upstream(req: &Request, body: Body, seen: poem::web::Data<&Arc<Seen>>) -> Response {
    let path = req.uri().path().to_owned();
    if path == "/api/auth/session/validate" {
        let body: Value =
            serde_json::from_slice(&body.into_vec().await.unwrap()).unwrap_or(Value::Null);
        let valid = body["session_token"] == TOKEN;
        return Json(json!({"status": "ok", "valid": valid,
            "user": {"user_id": 7, "email": "p@example.com", "display_name": "P", "roles": ["admin", "dev"]},
            "expires_at": "2099-01-01T00:00:00Z"})).into_response();
    }
    let headers: HashMap<String, String> = req
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_owned(),
                v.to_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let query = req.uri().query().unwrap_or_default().to_owned();
    if path == "/api/stall" {
        tokio::time::sleep(Duration::from_secs(5)).await;
    }
    if path == "/api/sse" {
        let frames = stream::unfold(0, |n| async move {
            if n == 2 {
                return None;
            }
            if n == 1 {
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
            Some((
                Ok::<_, std::io::Error>(Bytes::from(format!("data: frame {n}\n\n"))),
                n + 1,
            ))
        });
        return Response::builder()
            .content_type("text/event-stream")
            .body(Body::from_bytes_stream(frames));
    }
    if path == "/api/download" {
        let chunks = 64;
        let data = stream::iter(
            (0..chunks).map(|_| Ok::<_, std::io::Error>(Bytes::from(vec![7u8; 1024 * 1024]))),
        );
        return Response::builder().body(Body::from_bytes_stream(data));
    }
    let mut received = 0usize;
    let mut whole = true;
    let mut incoming = body.into_bytes_stream();
    while let Some(chunk) = incoming.next().await {
        match chunk {
            Ok(chunk) => received += chunk.len(),
            Err(_) => {
                whole = false;
                break;
            }
        }
    }
    seen.0.0.lock().unwrap().push(SeenRequest {
        target: format!("{path}?{query}"),
        received,
        whole,
    });
    let status = query
        .split('&')
        .find_map(|p| p.strip_prefix("status="))
        .and_then(|s| s.parse::<u16>().ok())
        .and_then(|s| StatusCode::from_u16(s).ok())
        .unwrap_or(StatusCode::OK);
    Json(json!({"method": req.method().as_str(), "path": path, "query": query, "received": received, "headers": headers}))
        .with_status(status)
        .with_header("x-upstream", "yes")
        .into_response()
}

async fn start_upstream() -> (String, Arc<Seen>) {
    let (url, seen, stop) = start_stoppable_upstream().await;
    std::mem::forget(stop);
    (url, seen)
}

/// An upstream that stops (port closed, open connections cut) when the sender is used.
async fn start_stoppable_upstream() -> (String, Arc<Seen>, tokio::sync::oneshot::Sender<()>) {
    let seen = Arc::new(Seen::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = Route::new().at("/*path", echo_upstream).data(seen.clone());
    let acceptor = poem::listener::TcpAcceptor::from_tokio(listener).unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = poem::Server::new_with_acceptor(acceptor).run_with_graceful_shutdown(
        app,
        async move {
            let _ = stopped.await;
        },
        Some(Duration::ZERO),
    );
    tokio::spawn(server);
    (format!("http://{addr}"), seen, stop)
}

async fn gateway(upstream: &str) -> TestGateway {
    let mut raw = base_raw_config(upstream, None);
    raw.gateway_proxy_first_byte_timeout_ms = 700;
    raw.gateway_proxy_max_body_bytes = 80 * 1024 * 1024;
    TestGateway::start(raw).await
}

/// `GET` a gateway path with the test session.
async fn get(gw: &TestGateway, path: &str) -> reqwest::Response {
    gw.http
        .get(gw.public(path))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
}

fn seen_paths(seen: &Seen) -> Vec<String> {
    seen.0
        .lock()
        .unwrap()
        .iter()
        .map(|s| s.target.clone())
        .collect()
}

#[tokio::test]
async fn every_method_passes_through_with_identity_and_without_credentials() {
    let (up, seen) = start_upstream().await;
    let gw = gateway(&up).await;
    // Without `Origin` a request skips poem's routing; a browser's goes through it (for
    // CORS). Both ways must forward alike.
    let ways = [None, Some("https://app.example.com")];
    for (method, origin) in ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
        .into_iter()
        .flat_map(|m| ways.map(|o| (m, o)))
    {
        let mut request = gw
            .http
            .request(
                method.parse().unwrap(),
                gw.public("/noetl/executions/42?limit=5&status=201"),
            )
            .header("x-request-id", format!("req-{method}"));
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        let resp = request
            .bearer_auth(TOKEN)
            .header("x-noetl-user-id", "999")
            .header("x-user-role", "root")
            .header("cookie", format!("theme=dark; session_token={TOKEN}"))
            .header("x-custom", "kept")
            .body("payload-bytes")
            .send()
            .await
            .unwrap();
        assert_eq!(
            resp.status(),
            201,
            "{method} {origin:?}: status passes through"
        );
        assert_eq!(resp.headers()["x-upstream"], "yes");
        assert_eq!(
            resp.headers()["x-request-id"],
            format!("req-{method}").as_str()
        );
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["method"], method);
        assert_eq!(body["path"], "/api/executions/42");
        assert_eq!(body["query"], "limit=5&status=201");
        assert_eq!(body["received"], 13);
        let h = &body["headers"];
        assert_eq!(
            h["x-noetl-user-id"], "7",
            "the verified identity, not the spoofed one"
        );
        assert_eq!(h["x-noetl-user-email"], "p@example.com");
        assert_eq!(h["x-noetl-user-roles"], "admin,dev");
        assert!(
            h.get("x-user-role").is_none() && h.get("authorization").is_none(),
            "{h}"
        );
        assert_eq!(
            h["cookie"], "theme=dark",
            "the session cookie is not forwarded"
        );
        assert_eq!(h["x-custom"], "kept");
        assert!(h["x-forwarded-for"].as_str().unwrap().contains("127.0.0.1"));
        assert_eq!(h["x-request-id"], format!("req-{method}"));
        assert!(h["x-forwarded-host"].is_string());
    }
    let head = gw
        .http
        .head(gw.public("/noetl/executions?status=204"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), 204, "HEAD passes through");
    assert_eq!(seen.0.lock().unwrap().len(), 13);
}

#[tokio::test]
async fn traversal_attempts_are_refused_before_reaching_upstream() {
    let (up, seen) = start_upstream().await;
    let gw = gateway(&up).await;
    // Sent as raw bytes: HTTP client libraries normalise `..` and `%2e%2e` away themselves.
    for path in [
        "/noetl/../api/secret",
        "/noetl/%2e%2e/secret",
        "/noetl/a/%2E%2E/b",
        "/noetl/a%2fb",
        "/noetl/a%5cb",
        "/noetl/a%00b",
        "/noetl/%2fetc/passwd",
        "/noetl/a/./b",
    ] {
        let answer = raw_get(gw.app.public_addr, path).await;
        assert!(answer.starts_with("HTTP/1.1 400"), "{path}: {answer}");
        assert!(
            answer.contains("\"code\":\"BAD_REQUEST\""),
            "{path}: {answer}"
        );
    }
    assert!(
        seen_paths(&seen).is_empty(),
        "nothing reached upstream: {:?}",
        seen_paths(&seen)
    );
}

async fn raw_get(addr: std::net::SocketAddr, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut socket = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\nConnection: close\r\n\r\n"
    );
    socket.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    socket.read_to_string(&mut answer).await.unwrap();
    answer
}

#[tokio::test]
async fn no_session_is_401_and_upstream_failures_are_bounded_json_errors() {
    let (up, _seen) = start_upstream().await;
    let gw = gateway(&up).await;
    let resp = gw
        .http
        .get(gw.public("/noetl/executions"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);

    let started = Instant::now();
    let resp = get(&gw, "/noetl/stall").await;
    assert_eq!(resp.status(), 504);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "after the first-byte bound: {:?}",
        started.elapsed()
    );
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["code"], "BACKEND_TIMEOUT");

    let (up2, _seen2, stop) = start_stoppable_upstream().await;
    let mut raw = base_raw_config(&up2, None);
    raw.gateway_proxy_first_byte_timeout_ms = 700;
    let down = TestGateway::start(raw).await;
    let warm = get(&down, "/noetl/executions").await;
    assert_eq!(warm.status(), 200, "the session is now cached");
    stop.send(()).unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = Instant::now();
    let resp = get(&down, "/noetl/executions").await;
    assert_eq!(resp.status(), 502);
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["code"], "BACKEND_UNAVAILABLE", "{body}");
    assert!(body["request_id"].is_string());
}

#[tokio::test]
async fn bodies_stream_both_ways_and_the_limit_holds() {
    let (up, seen) = start_upstream().await;
    let gw = gateway(&up).await;
    let upload = stream::iter((0..64).map(|_| Ok::<_, std::io::Error>(vec![1u8; 1024 * 1024])));
    let resp = gw
        .http
        .post(gw.public("/noetl/upload"))
        .bearer_auth(TOKEN)
        .body(reqwest::Body::wrap_stream(upload))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.json::<Value>().await.unwrap()["received"],
        64 * 1024 * 1024
    );

    let resp = get(&gw, "/noetl/download").await;
    let mut total = 0;
    let mut body = resp.bytes_stream();
    while let Some(chunk) = body.next().await {
        total += chunk.unwrap().len();
    }
    assert_eq!(total, 64 * 1024 * 1024);

    let too_big = stream::iter((0..90).map(|_| Ok::<_, std::io::Error>(vec![1u8; 1024 * 1024])));
    let resp = gw
        .http
        .post(gw.public("/noetl/upload"))
        .bearer_auth(TOKEN)
        .body(reqwest::Body::wrap_stream(too_big))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 413);
    let declared = gw
        .http
        .post(gw.public("/noetl/upload"))
        .bearer_auth(TOKEN)
        .body(vec![0u8; 81 * 1024 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(declared.status(), 413);
    assert_eq!(
        seen.0
            .lock()
            .unwrap()
            .iter()
            .filter(|s| s.received == 64 * 1024 * 1024)
            .count(),
        1
    );
}

#[tokio::test]
async fn an_upstream_event_stream_arrives_frame_by_frame() {
    let (up, _seen) = start_upstream().await;
    let gw = gateway(&up).await;
    let started = Instant::now();
    let resp = get(&gw, "/noetl/sse").await;
    let mut body = resp.bytes_stream();
    let first = body.next().await.unwrap().unwrap();
    assert!(String::from_utf8_lossy(&first).contains("frame 0"));
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "the first frame came before upstream finished"
    );
    let mut rest = Vec::new();
    while let Some(chunk) = body.next().await {
        rest.extend_from_slice(&chunk.unwrap());
    }
    assert!(String::from_utf8_lossy(&rest).contains("frame 1"));
    assert!(started.elapsed() >= Duration::from_secs(2));
}

#[tokio::test]
async fn the_path_policy_needs_its_roles_and_a_trace_context_goes_upstream() {
    let (up, seen) = start_upstream().await;
    let mut raw = base_raw_config(&up, None);
    raw.gateway_proxy_policy = "credentials/**=admin; postgres/execute=dba".into();
    let gw = TestGateway::start(raw).await;
    let allowed = get(&gw, "/noetl/credentials/pg").await;
    assert_eq!(allowed.status(), 200, "the session has admin");
    let body: Value = allowed.json().await.unwrap();
    assert!(
        body["headers"]["traceparent"]
            .as_str()
            .is_some_and(|t| t.starts_with("00-") && t.len() == 55)
    );
    let denied = gw
        .http
        .post(gw.public("/noetl/postgres/execute"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(denied.status(), 403);
    let body: Value = denied.json().await.unwrap();
    assert_eq!(body["code"], "FORBIDDEN");
    let with_query = gw
        .http
        .post(gw.public("/noetl/postgres/execute?dry_run=true"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(
        with_query.status(),
        403,
        "a query string does not change the path"
    );
    assert_eq!(
        seen_paths(&seen),
        vec!["/api/credentials/pg?".to_owned()],
        "the denied calls never reached upstream"
    );
}

#[tokio::test]
async fn cors_preflights_follow_the_allowed_origins() {
    let (up, _seen) = start_upstream().await;
    let mut raw = base_raw_config(&up, None);
    raw.cors_allowed_origins = "https://app.example.com".into();
    let gw = TestGateway::start(raw).await;
    let preflight = |origin: &str| {
        gw.http
            .request(reqwest::Method::OPTIONS, gw.public("/noetl/executions"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization, content-type",
            )
            .send()
    };
    let ok = preflight("https://app.example.com").await.unwrap();
    assert!(ok.status().is_success());
    assert_eq!(
        ok.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );
    assert_eq!(ok.headers()["access-control-allow-credentials"], "true");
    let refused = preflight("https://evil.example.com").await.unwrap();
    assert_eq!(refused.status(), 403);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["code"], "FORBIDDEN");
    let actual = gw
        .http
        .get(gw.public("/health"))
        .header("origin", "https://app.example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(
        actual.headers()["access-control-expose-headers"],
        "x-request-id"
    );

    let mut any = base_raw_config(&up, None);
    any.cors_allowed_origins = "*".into();
    let open = TestGateway::start(any).await;
    let resp = open
        .http
        .request(reqwest::Method::OPTIONS, open.public("/api/auth/validate"))
        .header("origin", "https://anywhere.example")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success(), "'*' is handled without a crash");
    assert_eq!(
        resp.headers()["access-control-allow-origin"],
        "https://anywhere.example"
    );
}

#[tokio::test]
async fn an_upload_whose_client_stops_sending_is_answered_408_and_never_arrives_whole() {
    an_upload_is_cut_off(0, false).await;
}

#[tokio::test]
async fn an_upload_trickled_below_the_minimum_rate_is_answered_408_and_never_arrives_whole() {
    // A byte every 100 ms: 10 bytes per second against 100.
    an_upload_is_cut_off(100, true).await;
}

/// With a one-second idle period and `min_rate`, a 1,000-byte upload whose client sends 100
/// bytes and then stops (or, with `trickle`, goes on a byte every 100 ms) is answered 408
/// after about a period, and NoETL sees it fail rather than arrive short.
async fn an_upload_is_cut_off(min_rate: u64, trickle: bool) {
    use tokio::io::AsyncWriteExt;
    let (up, seen) = start_upstream().await;
    let mut raw = base_raw_config(&up, None);
    raw.gateway_idle_timeout_secs = 1;
    raw.gateway_min_body_bytes_per_sec = min_rate;
    let gw = TestGateway::start(raw).await;
    let conn = tokio::net::TcpStream::connect(gw.app.public_addr)
        .await
        .unwrap();
    let (mut read, mut write) = conn.into_split();
    let head = format!(
        "POST /noetl/upload HTTP/1.1\r\nhost: gw\r\nauthorization: Bearer {TOKEN}\r\ncontent-length: 1000\r\n\r\n"
    );
    write.write_all(head.as_bytes()).await.unwrap();
    write.write_all(&[1u8; 100]).await.unwrap();
    let started = Instant::now();
    // The sending half stays open either way: a closed one would end the body early.
    let (_silent, trickler) = if trickle {
        let trickler = support::trickle(write, &[1], Duration::from_millis(100), 800);
        (None, Some(trickler))
    } else {
        (Some(write), None)
    };
    let got = support::read_until(&mut read, "REQUEST_TIMEOUT", Duration::from_secs(8)).await;
    let elapsed = started.elapsed();
    if let Some(trickler) = trickler {
        trickler.abort();
    }
    assert!(
        got.contains("REQUEST_TIMEOUT"),
        "an answer within the bound: {got}"
    );
    assert!(got.starts_with("HTTP/1.1 408"), "{got}");
    assert!(got.contains("\"code\":\"REQUEST_TIMEOUT\""), "{got}");
    assert!(
        elapsed >= Duration::from_millis(900) && elapsed < Duration::from_secs(3),
        "answered after one period: {elapsed:?}"
    );
    // NoETL saw the upload begin and then fail: never a shorter body taken as whole.
    let cut_off = support::eventually(Duration::from_secs(3), || async {
        let seen = seen.0.lock().unwrap();
        seen.iter()
            .any(|s| s.target.starts_with("/api/upload") && !s.whole && s.received < 1000)
    })
    .await;
    assert!(cut_off, "the upstream saw the upload cut off");
    assert!(
        !seen.0.lock().unwrap().iter().any(|s| s.whole),
        "no upload arrived whole"
    );
}

#[tokio::test]
async fn past_the_bound_on_connections_a_request_is_refused_at_once_and_served_when_one_frees() {
    let (up, seen) = start_upstream().await;
    let mut raw = base_raw_config(&up, None);
    raw.gateway_proxy_max_connections = 2;
    let gw = TestGateway::start(raw).await;
    // Each event stream holds a connection to NoETL until NoETL ends it (after 2 s).
    let mut streams = Vec::new();
    for _ in 0..2 {
        let mut body = get(&gw, "/noetl/sse").await.bytes_stream();
        let first = body.next().await.unwrap().unwrap();
        assert!(String::from_utf8_lossy(&first).contains("frame 0"));
        streams.push(body);
    }

    let started = Instant::now();
    let refused = get(&gw, "/noetl/items?n=3").await;
    assert_eq!(refused.status(), 503);
    assert_eq!(refused.headers()["retry-after"], "1");
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["code"], "UNAVAILABLE", "{body}");
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "refused at once"
    );
    assert!(seen_paths(&seen).is_empty(), "nothing reached NoETL");
    let metrics = gw.metrics_text().await;
    assert!(
        metrics.contains("\ngateway_proxy_upstream_connections 2\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("\ngateway_proxy_refused_total 1\n"),
        "{metrics}"
    );

    // Once the streams have ended, their connections serve the next requests.
    for mut body in streams {
        while let Some(chunk) = body.next().await {
            chunk.unwrap();
        }
    }
    for n in 4..7 {
        let served = get(&gw, &format!("/noetl/items?n={n}")).await;
        assert_eq!(served.status(), 200);
    }
    assert_eq!(
        seen_paths(&seen),
        ["/api/items?n=4", "/api/items?n=5", "/api/items?n=6"]
    );
}
