#!/usr/bin/env bash
# Browser check: headless Chromium loads GraphiQL from a running gateway and runs a query.
# Needs chromium and node; `.ci/run` runs it when both are installed. Writes docs/graphiql.png.
set -euo pipefail
cd "$(dirname "$0")/../.."
source tests/support/stack.sh
(cd tests/browser && npm ci --no-audit --no-fund --silent)
start_stack
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
node tests/browser/graphiql.mjs "$GATEWAY_URL" "bench-browser-session" "$version" docs/graphiql.png
