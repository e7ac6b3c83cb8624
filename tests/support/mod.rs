//! Test harness shared by the black-box tests: a real `nats-server` per test, a NoETL
//! stand-in with a scripted worker, and helpers to run the gateway in-process or as the
//! real binary. One module, used by every test file.
#![allow(dead_code)]

pub mod balancer;
pub mod gateway;
pub mod logs;
pub mod nats;
pub mod noetl;
pub mod sse;

#[allow(unused_imports)]
pub use gateway::{TestGateway, base_raw_config, http_client};
#[allow(unused_imports)]
pub use nats::{NatsCluster, NatsServer};
#[allow(unused_imports)]
pub use noetl::NoetlStandIn;

/// The value of the unlabelled metric `name` in Prometheus text.
pub fn metric_value<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
}

/// Starts playbook `name` for `client` through GraphQL `executePlaybook` on the gateway whose
/// public URL is `base`; returns the whole GraphQL answer (`data.executePlaybook` holds `id`,
/// `executionId`, `requestId`, `name` and `status`).
pub async fn execute_playbook(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    name: &str,
    client: &str,
    vars: serde_json::Value,
) -> serde_json::Value {
    const EXECUTE: &str = "mutation ExecutePlaybook($name: String!, $vars: JSON, $clientId: String) { executePlaybook(name: $name, variables: $vars, clientId: $clientId) { id executionId requestId name status } }";
    let variables = serde_json::json!({"name": name, "clientId": client, "vars": vars});
    http.post(format!("{base}/graphql"))
        .bearer_auth(token)
        .json(&serde_json::json!({"query": EXECUTE, "variables": variables}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Sends signal `which` (as `kill` spells it: `-TERM`, `-STOP`, ...) to process `pid`.
pub fn signal(pid: u32, which: &str) {
    let status = std::process::Command::new("kill")
        .args([which, &pid.to_string()])
        .status();
    assert!(
        status.is_ok_and(|s| s.success()),
        "kill {which} reached process {pid}"
    );
}

/// A free TCP port on loopback (bound, read, released).
pub fn free_port() -> u16 {
    free_ports::<1>()[0]
}

/// `N` distinct free TCP ports on loopback, all bound at once before any is released (so two
/// of them are never the same port).
///
/// They come from below the kernel's ephemeral range where it leaves room: a port from that
/// range, once released here, could become the source port of any outgoing connection on the
/// machine before the process it is meant for binds it. A cursor shared by the test process,
/// starting at an offset drawn from its process id, hands each port out once.
pub fn free_ports<const N: usize>() -> [u16; N] {
    let held: Vec<std::net::TcpListener> = (0..N).map(|_| bind_unclaimed()).collect();
    std::array::from_fn(|i| held[i].local_addr().expect("a bound address").port())
}

/// The lowest port the harness hands out.
const LOWEST_PORT: u16 = 10_000;

/// A loopback listener on a port below the ephemeral range that this process has not handed
/// out before; on a machine whose range leaves no room below it, any free port.
fn bind_unclaimed() -> std::net::TcpListener {
    use std::sync::atomic::{AtomicU32, Ordering};
    static CURSOR: AtomicU32 = AtomicU32::new(u32::MAX);
    let top = ephemeral_low().unwrap_or(0);
    if top <= LOWEST_PORT + 1_000 {
        return std::net::TcpListener::bind("127.0.0.1:0").expect("a free loopback port");
    }
    let span = u32::from(top - LOWEST_PORT);
    let _ = CURSOR.compare_exchange(
        u32::MAX,
        std::process::id().wrapping_mul(7_919) % span,
        Ordering::SeqCst,
        Ordering::SeqCst,
    );
    for _ in 0..span {
        let offset = CURSOR.fetch_add(1, Ordering::SeqCst) % span;
        let port = LOWEST_PORT + u16::try_from(offset).expect("an offset below the span");
        if let Ok(listener) = std::net::TcpListener::bind(("127.0.0.1", port)) {
            return listener;
        }
    }
    panic!("no free loopback port between {LOWEST_PORT} and {top}");
}

/// The first port of the kernel's ephemeral range, where the kernel says.
fn ephemeral_low() -> Option<u16> {
    let range = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").ok()?;
    range.split_whitespace().next()?.parse().ok()
}

/// Whether `changes` announces `key` within `within`; other announcements are passed over.
pub async fn announces(
    changes: &mut noetl_gateway::ports::InvalidationStream,
    key: &noetl_gateway::domain::SessionKey,
    within: std::time::Duration,
) -> bool {
    use futures_util::StreamExt;
    let wanted = noetl_gateway::ports::Invalidation::Key(key.clone());
    let found = tokio::time::timeout(within, async {
        while let Some(change) = changes.next().await {
            if change == wanted {
                return true;
            }
        }
        false
    });
    found.await.unwrap_or(false)
}

/// Polls `check` every 20 ms until it holds or `within` passes; returns whether it held.
pub async fn eventually<F, Fut>(within: std::time::Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if check().await {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// Writes `chunk` to `write` every `every`, `times` times or until a write fails: a client
/// that sends slowly. The task, to abort when done with it.
pub fn trickle(
    mut write: tokio::net::tcp::OwnedWriteHalf,
    chunk: &'static [u8],
    every: std::time::Duration,
    times: usize,
) -> tokio::task::JoinHandle<()> {
    use tokio::io::AsyncWriteExt;
    tokio::spawn(async move {
        for _ in 0..times {
            tokio::time::sleep(every).await;
            if write.write_all(chunk).await.is_err() {
                return;
            }
        }
    })
}

/// Reads `conn` until what arrived contains `needle` or the peer closes, for at most
/// `within`; what was read.
pub async fn read_until(
    conn: &mut (impl tokio::io::AsyncRead + Unpin),
    needle: &str,
    within: std::time::Duration,
) -> String {
    use tokio::io::AsyncReadExt;
    let mut got = Vec::new();
    let reading = async {
        let mut buf = [0u8; 4096];
        while !String::from_utf8_lossy(&got).contains(needle) {
            match conn.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    };
    let _ = tokio::time::timeout(within, reading).await;
    String::from_utf8_lossy(&got).into_owned()
}
