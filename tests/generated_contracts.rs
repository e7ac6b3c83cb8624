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

#[test]
fn the_committed_internal_openapi_json_matches_the_code() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("openapi/internal.json");
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    let generated = format!(
        "{}\n",
        noetl_gateway::adapters::http::internal_openapi_json()
    );
    assert!(
        committed == generated,
        "openapi/internal.json is stale: regenerate it with \
         `cargo run --quiet -- openapi --internal > openapi/internal.json` and commit the result"
    );
}

#[test]
fn the_committed_graphql_schema_matches_the_code() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("openapi/schema.graphql");
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    let generated = noetl_gateway::adapters::http::graphql::sdl();
    assert!(
        committed == generated,
        "openapi/schema.graphql is stale: regenerate it with \
         `cargo run --quiet -- graphql-schema > openapi/schema.graphql` and commit the result"
    );
}
