//! Black-box tests of the real binary: start without NATS or NoETL, SIGTERM, exit codes,
//! `config check`. Start-up speed itself is measured in `bench/startup.sh`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code may fail loudly

mod support;

use std::process::Command;
use std::time::{Duration, Instant};

use support::gateway::GatewayProcess;

fn dead_env() -> Vec<(&'static str, String)> {
    vec![
        (
            "NATS_URL",
            format!("nats://127.0.0.1:{}", support::free_port()),
        ),
        (
            "NOETL_BASE_URL",
            format!("http://127.0.0.1:{}", support::free_port()),
        ),
        ("GATEWAY_DRAIN_SECS", "3".into()),
    ]
}

/// One `GET` over a fresh connection: the whole answer, or `None` when it cannot be had.
fn get(addr: std::net::SocketAddr, path: &str) -> Option<String> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes())
        .ok()?;
    let mut answer = String::new();
    s.read_to_string(&mut answer).ok()?;
    Some(answer)
}

fn wait_healthy(gw: &GatewayProcess) -> Duration {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if get(gw.public, "/health").is_some_and(|a| a.starts_with("HTTP/1.1 200")) {
            return gw.started.elapsed();
        }
        assert!(
            Instant::now() < deadline,
            "the gateway did not answer /health within 10 s"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The soft and hard limits on open files in a `/proc/PID/limits` text.
fn open_files_limits(limits: &str) -> (String, String) {
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .expect("an open-files line");
    let mut fields = line["Max open files".len()..].split_whitespace();
    (
        fields.next().unwrap().to_owned(),
        fields.next().unwrap().to_owned(),
    )
}

/// A metric's value in Prometheus text.
fn metric(text: &str, name: &str) -> u64 {
    support::metric_value(text, name)
        .unwrap_or_else(|| panic!("no {name} in\n{text}"))
        .trim()
        .parse()
        .unwrap()
}

#[test]
fn without_nats_or_noetl_it_serves_health_and_exits_zero_on_sigterm() {
    let mut gw = GatewayProcess::spawn(&dead_env());
    let took = wait_healthy(&gw);
    assert!(
        took < Duration::from_secs(10),
        "answered /health after {took:?}"
    );
    gw.terminate();
    let status = gw
        .wait_exit(Duration::from_secs(5))
        .expect("exits within 5 s of SIGTERM");
    assert_eq!(status.code(), Some(0));
}

#[test]
fn text_logs_written_to_a_pipe_carry_no_colour_codes() {
    let mut env = dead_env();
    env.push(("LOG_FORMAT", "text".into()));
    env.push(("RUST_LOG", "info".into()));
    let mut gw = GatewayProcess::spawn(&env);
    wait_healthy(&gw);
    gw.terminate();
    gw.wait_exit(Duration::from_secs(5))
        .expect("exits within 5 s of SIGTERM");
    let output = gw.output();
    assert!(
        output.contains(" INFO ") && output.contains("response"),
        "the request's log line is there: {output}"
    );
    assert!(!output.contains('\u{1b}'), "no escape codes: {output:?}");
}

#[test]
fn a_non_numeric_router_port_exits_64_naming_router_port() {
    let out = Command::new(env!("CARGO_BIN_EXE_noetl-gateway"))
        .env_clear()
        .env("ROUTER_PORT", "abc")
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(64));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("ROUTER_PORT"), "{stderr}");
}

#[test]
fn config_check_prints_the_effective_settings_with_secrets_redacted() {
    let out = Command::new(env!("CARGO_BIN_EXE_noetl-gateway"))
        .args(["config", "check"])
        .env_clear()
        .env("GATEWAY_CALLBACK_SECRET", "topsecret-value")
        .env("NATS_URL", "nats://gw:natspassword@127.0.0.1:4222")
        .env("NATS_SESSION_BUCKET", "my_sessions")
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("NATS_SESSION_BUCKET = my_sessions"),
        "{stdout}"
    );
    assert!(
        stdout.contains("GATEWAY_CALLBACK_SECRET = <redacted>"),
        "{stdout}"
    );
    assert!(
        !stdout.contains("topsecret-value") && !stdout.contains("natspassword"),
        "{stdout}"
    );
}

#[test]
fn a_bad_config_file_exits_64() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("gw.toml");
    std::fs::write(&file, "router_port = \"many\"\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_noetl-gateway"))
        .args(["config", "check", "--config"])
        .arg(&file)
        .env_clear()
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(64));
    assert!(String::from_utf8_lossy(&out.stderr).contains("ROUTER_PORT"));
}

#[test]
fn a_low_soft_open_files_limit_is_raised_to_the_hard_one_and_reported() {
    let (_, hard) = open_files_limits(&std::fs::read_to_string("/proc/self/limits").unwrap());
    let mut gw = GatewayProcess::spawn_via(&["prlimit", "--nofile=256:"], &dead_env());
    wait_healthy(&gw);
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", gw.child.id())).unwrap();
    assert_eq!(open_files_limits(&limits), (hard.clone(), hard.clone()));

    let answer = get(gw.internal, "/metrics").expect("/metrics answers");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert_eq!(metric(&answer, "process_max_fds").to_string(), hard);
    // At least the two listeners, the runtime's poller and the three standard streams.
    let open = metric(&answer, "process_open_fds");
    assert!((6..256).contains(&open), "process_open_fds {open}");

    gw.terminate();
    assert!(gw.wait_exit(Duration::from_secs(5)).is_some());
    let output = gw.output();
    assert!(
        output.contains("raised the open-file limit") && output.contains("256"),
        "{output}"
    );
}

/// Reads one HTTP/1.1 answer with a `Content-Length` body from `conn`: its text, or what
/// arrived before the connection closed or went quiet for 5 s.
fn read_answer(conn: &mut std::net::TcpStream) -> String {
    use std::io::Read;
    conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let text = String::from_utf8_lossy(&got);
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().to_owned())
                })
                .and_then(|v| v.parse::<usize>().ok());
            if length.is_some_and(|n| body.len() >= n) {
                return text.into_owned();
            }
        }
        match conn.read(&mut buf) {
            Ok(0) | Err(_) => return text.into_owned(),
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
}

#[test]
fn a_flood_of_connections_leaves_the_descriptors_the_proxy_needs() {
    use std::io::Write;
    // This process holds the 1,400 client ends.
    noetl_gateway::adapters::process::raise_open_files_limit().unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let standin = runtime.block_on(support::NoetlStandIn::start());
    let token = standin.add_session(7, "flood@example.com", serde_json::json!([]));
    // 1,400 descriptors; the proxy keeps 100 connections to NoETL, auth 16 and the internal
    // listener 256, and 256 more are kept for NATS and files, so the public listener's
    // bound comes out at 1,400 - 100 - 16 - 256 - 256 = 772.
    let env = vec![
        ("NATS_URL", "memory".to_owned()),
        ("NOETL_BASE_URL", standin.base_url()),
        ("GATEWAY_PROXY_MAX_CONNECTIONS", "100".to_owned()),
        ("GATEWAY_AUTH_MAX_PENDING", "16".to_owned()),
        ("GATEWAY_INTERNAL_MAX_CONNECTIONS", "256".to_owned()),
    ];
    let mut gw = GatewayProcess::spawn_via(&["prlimit", "--nofile=1400:1400"], &env);
    wait_healthy(&gw);
    let metrics = get(gw.internal, "/metrics").expect("/metrics answers");
    assert_eq!(metric(&metrics, "gateway_connections_limit"), 772);

    // 100 clients with a request to make, then a flood of connections that send nothing:
    // 1,400 in all, of which 628 are past the bound.
    let mut clients: Vec<_> = (0..100)
        .map(|_| std::net::TcpStream::connect(gw.public).unwrap())
        .collect();
    let flood: Vec<_> = (0..1_300)
        .filter_map(|_| std::net::TcpStream::connect(gw.public).ok())
        .collect();
    std::thread::sleep(Duration::from_millis(500));

    let ask =
        format!("GET /noetl/health HTTP/1.1\r\nhost: gw\r\nauthorization: Bearer {token}\r\n\r\n");
    for client in &mut clients {
        client.write_all(ask.as_bytes()).unwrap();
    }
    let answers: Vec<String> = clients.iter_mut().map(read_answer).collect();
    let proxied = answers
        .iter()
        .filter(|a| a.starts_with("HTTP/1.1 200"))
        .count();
    assert_eq!(
        proxied,
        100,
        "every admitted client is proxied: {:?}",
        answers.iter().find(|a| !a.starts_with("HTTP/1.1 200"))
    );

    let metrics = get(gw.internal, "/metrics").expect("/metrics answers during the flood");
    assert!(
        metric(&metrics, "gateway_connections_refused_total") >= 600,
        "{metrics}"
    );
    assert!(metric(&metrics, "process_open_fds") < 1_100, "{metrics}");
    drop(flood);
    gw.terminate();
    assert!(gw.wait_exit(Duration::from_secs(10)).is_some());
}

#[test]
fn a_connection_bound_above_what_the_open_file_limit_leaves_is_warned_about() {
    let mut env = dead_env();
    env.push(("GATEWAY_MAX_CONNECTIONS", "5000".into()));
    let mut gw = GatewayProcess::spawn_via(&["prlimit", "--nofile=1400:1400"], &env);
    wait_healthy(&gw);
    let metrics = get(gw.internal, "/metrics").expect("/metrics answers");
    assert_eq!(metric(&metrics, "gateway_connections_limit"), 5000);
    gw.terminate();
    assert!(gw.wait_exit(Duration::from_secs(10)).is_some());
    let output = gw.output();
    assert!(
        output.contains("GATEWAY_MAX_CONNECTIONS is above what the open-file limit leaves"),
        "{output}"
    );
}
