//! Black-box tests of the foundation: health and readiness against a real nats-server and
//! the NoETL stand-in, the JSON error model, request ids, and both listeners.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code may fail loudly

mod support;

use std::time::Duration;

use serde_json::Value;
use support::{NatsServer, NoetlStandIn, TestGateway, base_raw_config, eventually};

async fn json(resp: reqwest::Response) -> (u16, Value) {
    let status = resp.status().as_u16();
    (status, resp.json().await.expect("a JSON body"))
}

async fn readyz(gw: &TestGateway) -> (u16, Value) {
    json(
        gw.http
            .get(gw.public("/readyz"))
            .send()
            .await
            .expect("readyz answers"),
    )
    .await
}

#[tokio::test]
async fn health_answers_ok_json_and_echoes_a_given_request_id() {
    let standin = NoetlStandIn::start().await;
    let gw = TestGateway::beside(&standin, |_| {}).await;
    let resp = gw
        .http
        .get(gw.public("/health"))
        .header("x-request-id", "trace-me-1")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["x-request-id"], "trace-me-1");
    let (status, body) = json(resp).await;
    assert_eq!(status, 200);
    assert_eq!(body["status"], "ok");
    let live = gw.http.get(gw.public("/livez")).send().await.unwrap();
    assert_eq!(live.status(), 200);
    let generated = gw.http.get(gw.public("/health")).send().await.unwrap();
    assert_eq!(
        generated.headers()["x-request-id"].len(),
        36,
        "an id is generated when none is sent"
    );
}

#[tokio::test]
async fn readiness_follows_noetl_and_nats_and_a_nats_outage_is_degraded_not_unready() {
    let mut nats = NatsServer::start();
    let mut standin = NoetlStandIn::start().await;
    let gw = TestGateway::start(base_raw_config(&standin.base_url(), Some(&nats.url()))).await;

    let connected = eventually(Duration::from_secs(10), || async {
        readyz(&gw).await.1["nats"] == "connected"
    })
    .await;
    assert!(
        connected,
        "the gateway connects to NATS: {:?}",
        readyz(&gw).await
    );
    let (status, body) = readyz(&gw).await;
    assert_eq!(
        (status, body["status"].as_str(), body["noetl"].as_str()),
        (200, Some("ready"), Some("up"))
    );

    nats.kill();
    let degraded = eventually(Duration::from_secs(10), || async {
        readyz(&gw).await.1["nats"] == "degraded"
    })
    .await;
    assert!(degraded, "a NATS loss shows as degraded");
    assert_eq!(
        readyz(&gw).await.0,
        200,
        "a NATS outage does not make the gateway unready"
    );

    nats.restart();
    let back = eventually(Duration::from_secs(15), || async {
        readyz(&gw).await.1["nats"] == "connected"
    })
    .await;
    assert!(
        back,
        "the gateway uses NATS again once it returns, without a restart"
    );

    standin.stop().await;
    let down = eventually(Duration::from_secs(5), || async {
        readyz(&gw).await.1["noetl"] == "down"
    })
    .await;
    assert!(down, "a NoETL outage is reported");
    assert_eq!(readyz(&gw).await.0, 200);
}

#[tokio::test]
async fn the_gateway_starts_and_serves_when_nats_was_never_reachable() {
    let dead_port = support::free_port();
    let raw = base_raw_config(
        "http://127.0.0.1:9",
        Some(&format!("nats://127.0.0.1:{dead_port}")),
    );
    let gw = TestGateway::start(raw).await;
    let (status, body) = readyz(&gw).await;
    assert_eq!(status, 200);
    assert_eq!(body["nats"], "degraded");
    assert_eq!(body["noetl"], "down");
}

#[tokio::test]
async fn memory_mode_reports_nats_as_memory() {
    let gw = TestGateway::start(base_raw_config("http://127.0.0.1:9", None)).await;
    assert_eq!(readyz(&gw).await.1["nats"], "memory");
}

#[tokio::test]
async fn readiness_answers_503_while_draining() {
    let gw = TestGateway::start(base_raw_config("http://127.0.0.1:9", None)).await;
    gw.app.gateway.readiness.start_draining();
    let (status, body) = readyz(&gw).await;
    assert_eq!(status, 503);
    assert_eq!(body["status"], "draining");
}

/// Every route so far, on both listeners, with input it must refuse.
#[tokio::test]
async fn bad_input_gets_the_json_error_model_with_a_4xx() {
    let gw = TestGateway::start(base_raw_config("http://127.0.0.1:9", None)).await;
    let big = "x".repeat(2 * 1024 * 1024);
    for base in [gw.public(""), gw.internal("")] {
        let cases: Vec<(reqwest::RequestBuilder, u16, &str)> = vec![
            (
                gw.http.get(format!("{base}/no/such/route")),
                404,
                "NOT_FOUND",
            ),
            (
                gw.http.post(format!("{base}/health")),
                405,
                "METHOD_NOT_ALLOWED",
            ),
            (
                gw.http.delete(format!("{base}/readyz")),
                405,
                "METHOD_NOT_ALLOWED",
            ),
            (
                gw.http.post(format!("{base}/health")).body(big.clone()),
                413,
                "PAYLOAD_TOO_LARGE",
            ),
            (
                gw.http
                    .post(format!("{base}/health"))
                    .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
                        (0..40).map(|_| Ok::<_, std::io::Error>(vec![b'y'; 64 * 1024])),
                    ))),
                413,
                "PAYLOAD_TOO_LARGE",
            ),
        ];
        for (request, want_status, want_code) in cases {
            let resp = request
                .header("x-request-id", "bad-input-1")
                .send()
                .await
                .unwrap();
            let (status, body) = json(resp).await;
            assert_eq!(status, want_status, "{body}");
            assert_eq!(body["code"], want_code, "{body}");
            assert_eq!(body["request_id"], "bad-input-1");
            assert!(
                body["error"].as_str().is_some_and(|e| !e.is_empty()),
                "{body}"
            );
        }
    }
}

#[tokio::test]
async fn the_internal_listener_is_separate_from_the_public_one() {
    let gw = TestGateway::start(base_raw_config("http://127.0.0.1:9", None)).await;
    assert_ne!(gw.app.public_addr, gw.app.internal_addr);
    let resp = gw.http.get(gw.internal("/livez")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn the_openapi_document_and_the_docs_page_are_served() {
    let gw = TestGateway::start(base_raw_config("http://127.0.0.1:9", None)).await;
    let committed: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi/openapi.json"))
            .unwrap(),
    )
    .unwrap();
    for _ in 0..2 {
        let answer = gw
            .http
            .get(gw.public("/openapi.json"))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 200);
        assert_eq!(answer.headers()["content-type"], "application/json");
        let spec: Value = answer.json().await.unwrap();
        assert_eq!(spec, committed, "the served spec is the committed one");
    }
    let docs = gw.http.get(gw.public("/docs")).send().await.unwrap();
    assert_eq!(docs.status(), 200);
    assert!(
        docs.text()
            .await
            .unwrap()
            .to_lowercase()
            .contains("swagger")
    );
}
