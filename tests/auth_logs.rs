//! Tokens never reach the logs: the real binary at debug level runs every auth flow, and its
//! whole output is searched for the tokens it handled.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code may fail loudly

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::gateway::GatewayProcess;
use support::{NatsServer, NoetlStandIn, http_client};

async fn run_flows(base: &str, http: &reqwest::Client, standin: &NoetlStandIn) -> Vec<String> {
    let post = |path: &str, body: Value| http.post(format!("{base}{path}")).json(&body).send();
    let idp_token = "good:77:logs@example.com:idp-secret-material";
    let login: Value = post("/api/auth/login", json!({"auth0_token": idp_token}))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = login["session_token"]
        .as_str()
        .expect("logged in")
        .to_owned();
    post("/api/auth/validate", json!({"session_token": token}))
        .await
        .unwrap();
    let other = standin.add_session(78, "other@example.com", json!(["dev"]));
    post("/api/auth/validate", json!({"session_token": other}))
        .await
        .unwrap();
    post(
        "/api/auth/check-access",
        json!({"session_token": token, "playbook_path": "tests/echo"}),
    )
    .await
    .unwrap();
    http.get(format!("{base}/api/auth/session?session_token={token}"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    post(
        "/api/auth/validate",
        json!({"session_token": "sess-not-known-anywhere"}),
    )
    .await
    .unwrap();
    post(
        "/api/auth/login",
        json!({"auth0_token": "bad-idp-secret-material"}),
    )
    .await
    .unwrap();
    post("/api/auth/logout", json!({"session_token": token}))
        .await
        .unwrap();
    vec![
        idp_token.to_owned(),
        "idp-secret-material".to_owned(),
        token,
        other,
        "sess-not-known-anywhere".to_owned(),
    ]
}

#[tokio::test]
async fn no_token_appears_in_the_logs_of_the_auth_flows() {
    let nats = NatsServer::start();
    let standin = NoetlStandIn::start().await;
    for format in ["text", "json"] {
        let mut gw = GatewayProcess::spawn(&[
            ("NATS_URL", nats.url()),
            ("NOETL_BASE_URL", standin.base_url()),
            ("RUST_LOG", "trace,hyper=debug,h2=info,tower=info".into()),
            ("LOG_FORMAT", format.into()),
        ]);
        let base = format!("http://{}", gw.public);
        let http = http_client();
        let up = support::eventually(Duration::from_secs(10), || async {
            http.get(format!("{base}/health")).send().await.is_ok()
        })
        .await;
        assert!(up);
        let secrets = run_flows(&base, &http, &standin).await;
        gw.terminate();
        assert!(gw.wait_exit(Duration::from_secs(10)).is_some());
        let logs = gw.output();
        assert!(
            logs.contains("auth callback"),
            "the login's callback reached this process"
        );
        assert!(
            logs.contains("response"),
            "the request log lines are there ({} bytes)",
            logs.len()
        );
        for secret in secrets {
            assert!(
                !logs.contains(&secret),
                "{format} logs contain a token: {secret}"
            );
        }
        if format == "json" {
            for line in logs.lines().filter(|l| !l.trim().is_empty()) {
                assert!(
                    serde_json::from_str::<Value>(line).is_ok(),
                    "not a JSON line: {line}"
                );
            }
        }
    }
}
