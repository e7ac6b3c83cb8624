//! The Helm chart agrees with the binary: every environment variable it can set is one the
//! gateway reads, its ports are the gateway's defaults, its probe paths are served, and
//! `values.yaml` parses.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code may fail loudly

mod support;

use std::collections::BTreeSet;
use std::path::Path;

use noetl_gateway::app::config::{ENV_KEYS, RawConfig};
use serde_yaml::Value;

const CHART: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/helm/noetl-gateway");

/// Variables read outside the configuration struct (telemetry and logging).
const ALSO_READ: &[&str] = &[
    "RUST_LOG",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_SERVICE_NAME",
    "GATEWAY_CONFIG",
];

fn values() -> Value {
    serde_yaml::from_str(&std::fs::read_to_string(Path::new(CHART).join("values.yaml")).unwrap())
        .expect("values.yaml parses")
}

fn templates() -> String {
    let mut all = String::new();
    for entry in std::fs::read_dir(Path::new(CHART).join("templates")).unwrap() {
        all.push_str(&std::fs::read_to_string(entry.unwrap().path()).unwrap());
    }
    all
}

/// Every variable name the chart can put in the environment.
fn chart_env_names() -> BTreeSet<String> {
    let mut names: BTreeSet<String> = templates()
        .lines()
        .filter_map(|l| l.trim().strip_prefix("- name: "))
        .filter(|n| n.chars().all(|c| c.is_ascii_uppercase() || c == '_'))
        .map(str::to_owned)
        .collect();
    let v = values();
    for (k, _) in v["config"].as_mapping().unwrap() {
        names.insert(k.as_str().unwrap().to_owned());
    }
    for (_, name) in v["secrets"]["keys"].as_mapping().unwrap() {
        names.insert(name.as_str().unwrap().to_owned());
    }
    names
}

#[test]
fn every_variable_the_chart_sets_is_one_the_gateway_reads() {
    let names = chart_env_names();
    assert!(
        names.contains("ROUTER_PORT") && names.contains("GATEWAY_CALLBACK_SECRET"),
        "{names:?}"
    );
    let unknown: Vec<&String> = names
        .iter()
        .filter(|n| !ENV_KEYS.contains(&n.as_str()) && !ALSO_READ.contains(&n.as_str()))
        .collect();
    assert!(
        unknown.is_empty(),
        "the chart sets variables the gateway does not read: {unknown:?}"
    );
}

#[test]
fn the_charts_ports_are_the_gateways_defaults() {
    let v = values();
    let defaults = RawConfig::default();
    assert_eq!(
        v["ports"]["public"].as_u64(),
        Some(u64::from(defaults.router_port))
    );
    assert_eq!(
        v["ports"]["internal"].as_u64(),
        Some(u64::from(defaults.gateway_internal_port))
    );
    assert!(
        v["replicaCount"].as_u64().is_some_and(|n| n >= 2),
        "two or more replicas by default"
    );
    let all = templates();
    assert!(
        !all.to_lowercase().contains("bypass"),
        "no auth bypass anywhere"
    );
}

#[tokio::test]
async fn the_charts_probe_paths_are_served() {
    let gw =
        support::TestGateway::start(support::base_raw_config("http://127.0.0.1:9", None)).await;
    let all = templates();
    let paths: Vec<&str> = all
        .lines()
        .filter_map(|l| l.trim().strip_prefix("path: "))
        .collect();
    assert_eq!(paths, vec!["/livez", "/readyz"]);
    for path in paths {
        let resp = gw.http.get(gw.public(path)).send().await.unwrap();
        assert_eq!(resp.status(), 200, "{path}");
    }
}
