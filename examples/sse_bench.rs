//! SSE benchmark client for `bench/sse.sh`. Opens N event streams to a gateway (each its own
//! client id; one connection each, or with `--http2 C` spread over C HTTP/2 connections),
//! starts one playbook per measured client, then posts progress
//! callbacks at a fixed rate to the internal listener (optionally another replica's) and
//! measures callback-to-frame latency. Prints one JSON line. Every stream uses `--token`'s
//! session, or with `--per_session N` one session per N clients.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a bench tool, not the service

#[path = "support/args.rs"]
mod args;

use args::arg;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use futures_util::stream::BoxStream;
use futures_util::{StreamExt, TryStreamExt};
use http_body_util::{BodyExt, Empty};
use hyper::client::conn::http2::SendRequest;
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::{Value, json};
use tokio::sync::Mutex;

fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_micros() as u64
}

/// How a stream reaches the gateway: a connection of its own, or a stream on a shared
/// HTTP/2 connection.
#[derive(Clone)]
enum Transport {
    Http1(reqwest::Client),
    Http2(SendRequest<Empty<Bytes>>),
}

type Frames = BoxStream<'static, Result<Bytes, String>>;

impl Transport {
    async fn open(&self, url: &str, cookie: &str) -> Result<Frames, String> {
        match self {
            Transport::Http1(http) => {
                let response = http
                    .get(url)
                    .header("cookie", cookie)
                    .send()
                    .await
                    .map_err(|e| e.to_string())?;
                Ok(response.bytes_stream().map_err(|e| e.to_string()).boxed())
            }
            Transport::Http2(send) => {
                let request = hyper::Request::get(url)
                    .header("cookie", cookie)
                    .body(Empty::new())
                    .unwrap();
                let response = send
                    .clone()
                    .send_request(request)
                    .await
                    .map_err(|e| e.to_string())?;
                Ok(response
                    .into_body()
                    .into_data_stream()
                    .map_err(|e| e.to_string())
                    .boxed())
            }
        }
    }
}

async fn http2_connection(public: &str) -> SendRequest<Empty<Bytes>> {
    let tcp = tokio::net::TcpStream::connect(public).await.unwrap();
    let (send, conn) = hyper::client::conn::http2::Builder::new(TokioExecutor::new())
        .handshake(TokioIo::new(tcp))
        .await
        .unwrap();
    tokio::spawn(conn);
    send
}

/// The session token of client number `c`: `token` for every client when `per_session` is 0,
/// else one session per `per_session` clients (a session holds at most
/// `GATEWAY_MAX_STREAMS_PER_SESSION` streams on a replica).
fn session_of(token: &str, c: usize, per_session: usize) -> String {
    match per_session {
        0 => token.to_owned(),
        n => format!("{token}-{}", c / n),
    }
}

/// Opens one stream and, when `latencies` is given, records progress frames' delays.
async fn stream(
    transport: Transport,
    public: String,
    token: String,
    client: String,
    opened: Arc<AtomicU64>,
    latencies: Option<Arc<Mutex<Vec<u64>>>>,
) {
    let url = format!("http://{public}/events?client_id={client}");
    let cookie = format!("session_token={token}");
    let mut attempt = 0;
    let mut body = loop {
        match transport.open(&url, &cookie).await {
            Ok(r) => break r,
            Err(_) if attempt < 20 => {
                attempt += 1;
                tokio::time::sleep(Duration::from_millis(50 * attempt)).await;
            }
            Err(_) => return,
        }
    };
    let mut pending = String::new();
    let mut counted = false;
    while let Some(Ok(chunk)) = body.next().await {
        pending.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = pending.find('\n') {
            let line: String = pending.drain(..=end).collect();
            let Some(data) = line.trim_end().strip_prefix("data: ") else {
                continue;
            };
            if !counted && data.contains("protocolVersion") {
                counted = true;
                opened.fetch_add(1, Ordering::Relaxed);
            }
            if let Some(lat) = &latencies
                && let Ok(v) = serde_json::from_str::<Value>(data)
                && let Some(sent) = v["params"]["progress"]["sent_us"].as_u64()
            {
                lat.lock().await.push(now_us().saturating_sub(sent));
            }
        }
    }
}

#[tokio::main]
async fn main() {
    let offset: usize = arg("offset", "0").parse().unwrap();
    let public = arg("public", "127.0.0.1:8090");
    let internal = arg("internal", "127.0.0.1:8091");
    let token = arg("token", "bench-sse-session");
    let clients: usize = arg("clients", "1000").parse().unwrap();
    let measured: usize = arg("measured", "100").parse().unwrap();
    let rate: f64 = arg("rate", "1000").parse().unwrap();
    let seconds: f64 = arg("seconds", "10").parse().unwrap();
    let hold: f64 = arg("hold", "0").parse().unwrap();
    let http2: usize = arg("http2", "0").parse().unwrap();
    let per_session: usize = arg("per_session", "0").parse().unwrap();

    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .build()
        .unwrap();
    // One playbook per measured client, so its callbacks have a pending request to land on.
    let mut requests = Vec::new();
    for c in 0..measured {
        let query = "mutation($c: String) { executePlaybook(name: \"tests/silent\", clientId: $c, variables: {delay_ms: 3600000}) { requestId } }";
        let body: Value = http
            .post(format!("http://{public}/graphql"))
            .header(
                "cookie",
                format!(
                    "session_token={}",
                    session_of(&token, c + offset, per_session)
                ),
            )
            .json(&json!({"query": query, "variables": {"c": format!("bench-{}", c + offset)}}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        requests.push(
            body["data"]["executePlaybook"]["requestId"]
                .as_str()
                .expect("started")
                .to_owned(),
        );
    }

    let mut transports = Vec::new();
    for _ in 0..http2 {
        transports.push(Transport::Http2(http2_connection(&public).await));
    }
    if transports.is_empty() {
        transports.push(Transport::Http1(http.clone()));
    }
    let opened = Arc::new(AtomicU64::new(0));
    let latencies = Arc::new(Mutex::new(Vec::new()));
    let started = Instant::now();
    for c in 0..clients {
        let lat = (c < measured).then(|| latencies.clone());
        let client = format!("bench-{}", c + offset);
        tokio::spawn(stream(
            transports[c % transports.len()].clone(),
            public.clone(),
            session_of(&token, c + offset, per_session),
            client,
            opened.clone(),
            lat,
        ));
        if c % 200 == 199 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    while (opened.load(Ordering::Relaxed) as usize) < clients
        && started.elapsed() < Duration::from_secs(120)
    {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let open_count = opened.load(Ordering::Relaxed);
    let open_secs = started.elapsed().as_secs_f64();
    println!("{{\"phase\":\"open\",\"clients\":{open_count},\"seconds\":{open_secs:.1}}}");
    if hold > 0.0 {
        tokio::time::sleep(Duration::from_secs_f64(hold)).await;
    }

    if measured == 0 || rate <= 0.0 {
        return;
    }
    let total = (rate * seconds) as usize;
    let interval = Duration::from_secs_f64(1.0 / rate);
    let begin = Instant::now();
    let mut sends = Vec::with_capacity(total);
    for n in 0..total {
        let due = begin + interval * n as u32;
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            tokio::time::sleep(wait).await;
        }
        let body = json!({"request_id": requests[n % requests.len()], "progress": {"n": n, "sent_us": now_us()}});
        let http = http.clone();
        let url = format!("http://{internal}/api/internal/progress");
        sends.push(tokio::spawn(async move {
            http.post(url)
                .json(&body)
                .send()
                .await
                .map(|r| r.status().is_success())
                .unwrap_or(false)
        }));
    }
    let mut failed = 0;
    for s in sends {
        if !s.await.unwrap_or(false) {
            failed += 1;
        }
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut all = latencies.lock().await.clone();
    all.sort_unstable();
    let pct = |p: f64| {
        all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0)
    };
    println!(
        "{{\"phase\":\"latency\",\"callbacks\":{total},\"failed\":{failed},\"received\":{},\"p50_us\":{},\"p99_us\":{},\"max_us\":{}}}",
        all.len(),
        pct(0.5),
        pct(0.99),
        all.last().copied().unwrap_or(0)
    );
}
