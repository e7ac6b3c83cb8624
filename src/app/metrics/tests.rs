//! Unit tests of the metrics registry and its text format.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use super::*;

#[test]
fn histograms_are_cumulative_and_count_every_observation() {
    let metrics = Metrics::new();
    for ms in [0, 3, 3, 700, 20_000] {
        metrics.http_request(
            "/health",
            Cow::Borrowed("GET"),
            200,
            Duration::from_millis(ms),
        );
    }
    let text = metrics.render();
    let line = |needle: &str| {
        text.lines()
            .find(|l| l.starts_with(needle))
            .unwrap_or_else(|| panic!("no line {needle} in\n{text}"))
            .rsplit(' ')
            .next()
            .unwrap()
            .to_owned()
    };
    let labels = "route=\"/health\",method=\"GET\",status=\"200\"";
    assert_eq!(
        line(&format!(
            "gateway_http_request_duration_seconds_bucket{{{labels},le=\"0.0005\"}}"
        )),
        "1"
    );
    assert_eq!(
        line(&format!(
            "gateway_http_request_duration_seconds_bucket{{{labels},le=\"0.005\"}}"
        )),
        "3"
    );
    assert_eq!(
        line(&format!(
            "gateway_http_request_duration_seconds_bucket{{{labels},le=\"1\"}}"
        )),
        "4"
    );
    assert_eq!(
        line(&format!(
            "gateway_http_request_duration_seconds_bucket{{{labels},le=\"10\"}}"
        )),
        "4"
    );
    assert_eq!(
        line(&format!(
            "gateway_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}}"
        )),
        "5"
    );
    assert_eq!(
        line(&format!(
            "gateway_http_request_duration_seconds_count{{{labels}}}"
        )),
        "5"
    );
    assert_eq!(
        line(&format!(
            "gateway_http_request_duration_seconds_sum{{{labels}}}"
        )),
        "20.706"
    );
}

#[test]
fn counters_gauges_and_label_escaping() {
    let metrics = Arc::new(Metrics::new());
    metrics.session_lookup(SessionLevel::Local, LookupOutcome::Hit);
    metrics.session_lookup(SessionLevel::Local, LookupOutcome::Hit);
    metrics.session_lookup(SessionLevel::Backend, LookupOutcome::Invalid);
    metrics.http_request("/x", Cow::Owned("WE\"IRD\\".into()), 418, Duration::ZERO);
    let guard = metrics.sse_opened();
    metrics.set_nats_connected(1);
    let text = metrics.render();
    assert!(text.contains("gateway_session_lookups_total{level=\"local\",outcome=\"hit\"} 2\n"));
    assert!(
        text.contains("gateway_session_lookups_total{level=\"noetl\",outcome=\"invalid\"} 1\n")
    );
    assert!(text.contains("method=\"WE\\\"IRD\\\\\""), "{text}");
    assert!(text.contains("gateway_sse_connections 1\n"));
    assert!(text.contains("gateway_nats_connected 1\n"));
    drop(guard);
    let text = metrics.render();
    assert!(text.contains("gateway_sse_connections 0\n"));
    assert!(text.contains("gateway_sse_connections_total 1\n"));
}

#[test]
fn each_session_lookup_is_counted_under_its_own_labels() {
    let levels = [
        (SessionLevel::Local, "local"),
        (SessionLevel::Shared, "shared"),
        (SessionLevel::Backend, "noetl"),
    ];
    let outcomes = [
        (LookupOutcome::Hit, "hit"),
        (LookupOutcome::Miss, "miss"),
        (LookupOutcome::Invalid, "invalid"),
        (LookupOutcome::Error, "error"),
    ];
    for (level, level_label) in levels {
        for (outcome, outcome_label) in outcomes {
            let metrics = Metrics::new();
            metrics.session_lookup(level, outcome);
            let text = metrics.render();
            let series = |l: &str, o: &str| {
                format!("gateway_session_lookups_total{{level=\"{l}\",outcome=\"{o}\"}}")
            };
            for (_, other_level) in levels {
                for (_, other_outcome) in outcomes {
                    let counted =
                        u8::from(other_level == level_label && other_outcome == outcome_label);
                    let line = format!("{} {counted}\n", series(other_level, other_outcome));
                    assert!(text.contains(&line), "{line} in {text}");
                }
            }
        }
    }
}
