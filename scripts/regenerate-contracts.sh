#!/usr/bin/env bash
# Rewrites the committed contracts from the code: the public and internal OpenAPI documents
# and the GraphQL SDL. The drift tests in tests/generated_contracts.rs fail until this is run.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo run --quiet -- openapi > openapi/openapi.json
cargo run --quiet -- openapi --internal > openapi/internal.json
cargo run --quiet -- graphql-schema > openapi/schema.graphql
