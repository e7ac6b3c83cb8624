//! The committed OpenAPI document matches the code that serves it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code may fail loudly

#[test]
fn the_committed_openapi_json_matches_the_code() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("openapi/openapi.json");
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    let generated = format!("{}\n", noetl_gateway::adapters::http::openapi_json());
    assert!(
        committed == generated,
        "openapi/openapi.json is stale: regenerate it with \
         `cargo run --quiet -- openapi > openapi/openapi.json` and commit the result"
    );
}
