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

fn wait_healthy(gw: &GatewayProcess) -> Duration {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let ok = std::net::TcpStream::connect(gw.public).is_ok_and(|mut s| {
            use std::io::{Read, Write};
            let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
            let sent = s.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
            let mut buf = String::new();
            sent.is_ok() && s.read_to_string(&mut buf).is_ok() && buf.starts_with("HTTP/1.1 200")
        });
        if ok {
            return gw.started.elapsed();
        }
        assert!(
            Instant::now() < deadline,
            "the gateway did not answer /health within 10 s"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
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
