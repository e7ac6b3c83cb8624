//! Auth across replicas sharing one nats-server, and through a NATS outage.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code may fail loudly

mod support;

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::{NatsServer, NoetlStandIn, TestGateway, base_raw_config, eventually};

async fn valid(gw: &TestGateway, token: &str) -> bool {
    let (status, body) = gw
        .post_json("/api/auth/validate", json!({"session_token": token}))
        .await;
    assert_eq!(status, 200, "{body}");
    body["valid"] == true
}

async fn login(gw: &TestGateway) -> String {
    let (status, body) = gw
        .post_json("/api/auth/login", json!({"auth0_token": "good"}))
        .await;
    assert_eq!(status, 200, "{body}");
    body["session_token"].as_str().unwrap().to_owned()
}

/// Replica B first; A hands B's internal URL to its playbooks, so every callback of a login
/// started on A reaches B.
async fn two_replicas(standin: &NoetlStandIn, nats: &NatsServer) -> (TestGateway, TestGateway) {
    let b = TestGateway::start(base_raw_config(&standin.base_url(), Some(&nats.url()))).await;
    let mut raw = base_raw_config(&standin.base_url(), Some(&nats.url()));
    raw.gateway_internal_url = format!("http://{}", b.app.internal_addr).as_str().into();
    let a = TestGateway::start(raw).await;
    a.wait_nats_connected().await;
    b.wait_nats_connected().await;
    (a, b)
}

#[tokio::test]
async fn sessions_and_callbacks_cross_replicas_and_a_logout_reaches_every_replica_within_a_second()
{
    let nats = NatsServer::start();
    let standin = NoetlStandIn::start().await;
    let (a, b) = two_replicas(&standin, &nats).await;

    let token = login(&a).await;
    let callback = standin.first_callback().await;
    assert!(
        callback.url.contains(&b.app.internal_addr.to_string()),
        "the callback went to B: {}",
        callback.url
    );
    assert_eq!(callback.answer["delivered"], true);

    let asked_before = standin.calls_to("/api/auth/session/validate").len();
    assert!(valid(&b, &token).await, "B knows the session A created");
    assert_eq!(
        standin.calls_to("/api/auth/session/validate").len(),
        asked_before,
        "B answered from the shared cache without asking NoETL"
    );

    let (status, _) = a
        .post_json("/api/auth/logout", json!({"session_token": token}))
        .await;
    assert_eq!(status, 200);
    let started = Instant::now();
    let ended = eventually(Duration::from_secs(1), || async {
        !valid(&b, &token).await
    })
    .await;
    assert!(
        ended,
        "B refuses the session within 1 s of the logout on A ({:?})",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_nats_outage_degrades_auth_and_nats_is_used_again_when_it_returns() {
    let mut nats = NatsServer::start();
    let standin = NoetlStandIn::start().await;
    let (a, b) = two_replicas(&standin, &nats).await;
    let cached = login(&a).await;
    assert!(valid(&b, &cached).await);

    nats.kill();
    assert!(
        eventually(Duration::from_secs(10), || async {
            a.nats_state().await == "degraded"
        })
        .await
    );
    assert!(valid(&b, &cached).await, "a cached session still validates");
    let fresh = standin.add_session(11, "h@example.com", json!(["dev"]));
    assert!(
        valid(&a, &fresh).await,
        "a new session validates through NoETL's session route"
    );
    let mut raw = base_raw_config(&standin.base_url(), Some(&nats.url()));
    raw.auth_playbook_timeout_secs = 5;
    let single = TestGateway::start(raw).await;
    let during = login(&single).await;
    assert!(
        valid(&single, &during).await,
        "a login completes on one replica while NATS is away"
    );

    nats.restart();
    a.wait_nats_connected().await;
    b.wait_nats_connected().await;
    let after = login(&a).await;
    let asked_before = standin.calls_to("/api/auth/session/validate").len();
    let via_kv = eventually(Duration::from_secs(5), || async { valid(&b, &after).await }).await;
    assert!(via_kv);
    assert_eq!(
        standin.calls_to("/api/auth/session/validate").len(),
        asked_before,
        "B read the K/V again"
    );

    let (status, _) = a
        .post_json("/api/auth/logout", json!({"session_token": after}))
        .await;
    assert_eq!(status, 200);
    let ended = eventually(Duration::from_secs(2), || async {
        !valid(&b, &after).await
    })
    .await;
    assert!(ended, "invalidations flow again after NATS returns");
}

#[tokio::test]
async fn concurrent_validations_on_two_replicas_ask_noetl_at_most_once_each() {
    let nats = NatsServer::start();
    let standin = NoetlStandIn::start().await;
    standin.set_stall(Duration::from_millis(200));
    let (a, b) = two_replicas(&standin, &nats).await;
    let token = standin.add_session(12, "i@example.com", json!(["dev"]));
    let mut tasks = Vec::new();
    for i in 0..1000 {
        let gw = if i % 2 == 0 { &a } else { &b };
        let http = gw.http.clone();
        let url = gw.public("/api/auth/validate");
        let token = token.clone();
        tasks.push(tokio::spawn(async move {
            let body: Value = http
                .post(url)
                .json(&json!({"session_token": token}))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            body["valid"] == true
        }));
    }
    for task in tasks {
        assert!(task.await.unwrap());
    }
    let lookups = standin.calls_to("/api/auth/session/validate").len();
    assert!(
        (1..=2).contains(&lookups),
        "at most one NoETL lookup per replica, saw {lookups}"
    );
}
