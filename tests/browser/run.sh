#!/usr/bin/env bash
# Browser check: headless Chromium loads GraphiQL from a running gateway and runs a query.
# Needs chromium and node; `.ci/run` runs it when both are installed. Writes docs/graphiql.png.
set -euo pipefail
cd "$(dirname "$0")/../.."
TARGET=${CARGO_TARGET_DIR:-target}
cargo build --locked --quiet --bin noetl-gateway
(cd tests/browser && npm ci --no-audit --no-fund --silent)
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
stub=$(port); pub=$(port); int=$(port)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT
python3 bench/noetl_stub.py "$stub" & pids+=($!)
ROUTER_PORT=$pub GATEWAY_INTERNAL_PORT=$int GATEWAY_BIND_HOST=127.0.0.1 NATS_URL=memory \
  NOETL_BASE_URL=http://127.0.0.1:$stub RUST_LOG=warn "$TARGET/debug/noetl-gateway" & pids+=($!)
for _ in $(seq 200); do curl -fs "http://127.0.0.1:$pub/health" >/dev/null 2>&1 && curl -fs "http://127.0.0.1:$stub/api/health" >/dev/null 2>&1 && break; sleep 0.05; done
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
node tests/browser/graphiql.mjs "http://127.0.0.1:$pub" "bench-browser-session" "$version" docs/graphiql.png
