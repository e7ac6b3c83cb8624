//! Black-box test of `/metrics`: it is served on the internal listener only, parses as
//! Prometheus text, and its counters move as requests, session lookups, NoETL calls, SSE
//! streams and callbacks happen.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code may fail loudly

mod support;

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use serde_json::json;
use support::noetl::ECHO;
use support::sse::SseClient;
use support::{NatsServer, NoetlStandIn, TestGateway, base_raw_config};

/// Samples by `name{labels}` (labels as written), after checking every line's syntax and
/// that each sample belongs to a family with a `# TYPE`.
fn parse(text: &str) -> BTreeMap<String, f64> {
    let mut types: HashMap<String, String> = HashMap::new();
    let mut samples = BTreeMap::new();
    let is_name = |n: &str| {
        !n.is_empty()
            && n.chars().enumerate().all(|(i, c)| {
                c.is_ascii_alphabetic() || c == '_' || c == ':' || (i > 0 && c.is_ascii_digit())
            })
    };
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("TYPE name kind");
            assert!(is_name(name), "bad family name in {line:?}");
            assert!(
                ["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind),
                "bad type in {line:?}"
            );
            assert!(
                types.insert(name.to_owned(), kind.to_owned()).is_none(),
                "TYPE twice: {line:?}"
            );
            continue;
        }
        if line.starts_with("# HELP ") || line.is_empty() {
            continue;
        }
        assert!(!line.starts_with('#'), "unknown comment {line:?}");
        let (series, value) = line.rsplit_once(' ').expect("series value");
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v
                .parse()
                .unwrap_or_else(|_| panic!("bad value in {line:?}")),
        };
        let name = series.split('{').next().unwrap();
        assert!(is_name(name), "bad metric name in {line:?}");
        let labels = &series[name.len()..];
        if !labels.is_empty() {
            assert!(labels.starts_with('{') && labels.ends_with('}'), "{line:?}");
            for pair in split_labels(&labels[1..labels.len() - 1]) {
                let (k, v) = pair.split_once('=').expect("label=value");
                assert!(is_name(k), "bad label name in {line:?}");
                assert!(
                    v.starts_with('"') && v.ends_with('"') && v.len() >= 2,
                    "{line:?}"
                );
            }
        }
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| {
                name.strip_suffix(s)
                    .filter(|f| types.get(*f).is_some_and(|t| t == "histogram"))
            })
            .unwrap_or(name);
        assert!(
            types.contains_key(family),
            "sample without a TYPE: {line:?}"
        );
        samples.insert(series.to_owned(), value);
    }
    samples
}

/// Splits `a="x",b="y,z"` at the commas outside quotes.
fn split_labels(text: &str) -> Vec<String> {
    let (mut parts, mut current, mut quoted, mut escaped) =
        (Vec::new(), String::new(), false, false);
    for c in text.chars() {
        match c {
            '\\' if quoted && !escaped => escaped = true,
            '"' if !escaped => quoted = !quoted,
            ',' if !quoted => {
                parts.push(std::mem::take(&mut current));
                continue;
            }
            _ => escaped = false,
        }
        current.push(c);
    }
    if !current.is_empty() {
        parts.push(current);
    }
    parts
}

async fn scrape(gw: &TestGateway) -> BTreeMap<String, f64> {
    let response = gw.http.get(gw.internal("/metrics")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    parse(&response.text().await.unwrap())
}

fn value(samples: &BTreeMap<String, f64>, series: &str) -> f64 {
    samples.get(series).copied().unwrap_or(0.0)
}

#[tokio::test]
async fn metrics_parse_and_move_as_the_gateway_works() {
    let nats = NatsServer::start();
    let standin = NoetlStandIn::start().await;
    let raw = base_raw_config(&standin.base_url(), Some(&nats.url()));
    // A stream's end is noticed at its next write: ping every second.
    let raw = noetl_gateway::app::config::RawConfig {
        gateway_heartbeat_interval_secs: 1,
        ..raw
    };
    let gw = TestGateway::start(raw).await;
    gw.wait_nats_connected().await;
    let token = standin.add_session(71, "metrics@example.com", json!(["admin"]));

    let public = gw.http.get(gw.public("/metrics")).send().await.unwrap();
    assert_eq!(public.status(), 404, "metrics are internal only");

    let before = scrape(&gw).await;
    assert_eq!(value(&before, "gateway_nats_connected"), 1.0);
    for _ in 0..3 {
        gw.http.get(gw.public("/health")).send().await.unwrap();
    }
    for _ in 0..2 {
        let (status, _) = gw
            .post_json("/api/auth/validate", json!({"session_token": token}))
            .await;
        assert_eq!(status, 200);
    }
    let (status, body) = gw
        .post_json(
            "/api/auth/validate",
            json!({"session_token": "sess-unknown"}),
        )
        .await;
    assert_eq!((status, &body["valid"]), (200, &json!(false)));
    let anonymous = gw
        .http
        .get(gw.public("/noetl/executions/7?x=1"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);

    let mut sse = SseClient::connect(gw.http.get(gw.public(&format!(
        "/events?session_token={token}&client_id=metrics-tab"
    ))))
    .await;
    let _init = sse.next().await;
    let during = scrape(&gw).await;
    assert_eq!(value(&during, "gateway_sse_connections"), 1.0);

    let query = "mutation Run($name: String!, $clientId: String) { executePlaybook(name: $name, clientId: $clientId) { requestId } }";
    let answer = gw
        .http
        .post(gw.public("/graphql"))
        .bearer_auth(&token)
        .json(&json!({"query": query, "variables": {"name": ECHO, "clientId": "metrics-tab"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let _progress = sse.next_event().await;
    let _state = sse.next_event().await;
    let result = sse.next_event().await;
    assert_eq!(result.event, "playbook/result");
    let (status, _) = gw
        .internal_post_json(
            "/api/internal/callback/async",
            json!({"request_id": "not-pending", "status": "COMPLETED"}),
        )
        .await;
    assert_eq!(status, 404);
    drop(sse);

    let settled = support::eventually(Duration::from_secs(5), || async {
        value(&scrape(&gw).await, "gateway_sse_connections") == 0.0
    })
    .await;
    assert!(settled, "the closed stream is no longer counted");
    let after = scrape(&gw).await;
    let moved = |series: &str| value(&after, series) - value(&before, series);

    let health = "route=\"/health\",method=\"GET\",status=\"200\"";
    assert_eq!(
        moved(&format!(
            "gateway_http_request_duration_seconds_count{{{health}}}"
        )),
        3.0
    );
    assert_eq!(
        moved(&format!(
            "gateway_http_request_duration_seconds_bucket{{{health},le=\"+Inf\"}}"
        )),
        3.0
    );
    let refused = "route=\"/noetl/{path}\",method=\"GET\",status=\"401\"";
    assert_eq!(
        moved(&format!(
            "gateway_http_request_duration_seconds_count{{{refused}}}"
        )),
        1.0
    );
    assert_eq!(
        moved("gateway_session_lookups_total{level=\"noetl\",outcome=\"hit\"}"),
        1.0,
        "the first validation asked NoETL"
    );
    assert!(
        moved("gateway_session_lookups_total{level=\"local\",outcome=\"hit\"}") >= 1.0,
        "the second was answered in process"
    );
    assert_eq!(
        moved("gateway_session_lookups_total{level=\"noetl\",outcome=\"invalid\"}"),
        1.0
    );
    assert_eq!(
        moved("gateway_noetl_request_duration_seconds_count{operation=\"execute\",outcome=\"ok\"}"),
        1.0
    );
    assert_eq!(
        moved("gateway_callbacks_total{kind=\"result\",outcome=\"delivered\"}"),
        1.0
    );
    assert_eq!(
        moved("gateway_callbacks_total{kind=\"progress\",outcome=\"delivered\"}"),
        1.0
    );
    assert_eq!(
        moved("gateway_callbacks_total{kind=\"result\",outcome=\"rejected\"}"),
        1.0
    );
    assert_eq!(moved("gateway_sse_connections_total"), 1.0);

    drop(nats);
    let down = support::eventually(Duration::from_secs(10), || async {
        value(&scrape(&gw).await, "gateway_nats_connected") == 0.0
    })
    .await;
    assert!(down, "the NATS gauge follows the connection");
}

#[test]
fn the_parser_rejects_what_prometheus_rejects() {
    assert!(std::panic::catch_unwind(|| parse("no_type 1\n")).is_err());
    assert!(std::panic::catch_unwind(|| parse("# TYPE x counter\nx{a=b} 1\n")).is_err());
    assert!(std::panic::catch_unwind(|| parse("# TYPE x counter\nx one\n")).is_err());
    let ok = parse("# TYPE x counter\nx{a=\"1,2\",b=\"q\\\"\"} 3\n");
    assert_eq!(ok.len(), 1);
}
