#!/usr/bin/env bash
# RSS per held HTTP/1.1 event stream of several gateway builds, in alternating rounds on the
# same machine: a finer comparison than `bench/sse.sh`'s 19,900 streams, whose per-stream
# figure moves by kilobytes from run to run on some machines. Each round starts a build,
# opens STREAMS (8,000) streams with `examples/sse_bench.rs`, reads the gateway's RSS 5 s
# after the last one opened, and checks that all of them are still established.
# Usage: bash bench/sse_builds.sh GATEWAY_BIN...   (default: this tree's build)
source "$(dirname "$0")/lib.sh"
STREAMS=${STREAMS:-8000}
ROUNDS=${ROUNDS:-2}
ulimit -n "$(ulimit -Hn)"
cargo build --release --locked --quiet --bin noetl-gateway --example sse_bench
SSE_BENCH=$TARGET/release/examples/sse_bench
bins=("$@"); [ ${#bins[@]} -gt 0 ] || bins=("$GATEWAY")
start_stub
out=$(mktemp)
for round in $(seq "$ROUNDS"); do
  for bin in "${bins[@]}"; do
    pub=$(free_port); int=$(free_port)
    ROUTER_PORT=$pub GATEWAY_INTERNAL_PORT=$int GATEWAY_BIND_HOST=127.0.0.1 GATEWAY_INTERNAL_BIND_HOST=127.0.0.1 \
      NATS_URL=memory NOETL_BASE_URL="http://127.0.0.1:$stub" RUST_LOG=error GATEWAY_WATCH_GRACE_SECS=3600 \
      GATEWAY_MAX_STREAMS_PER_SESSION=1000000 GATEWAY_MAX_CONNECTIONS=1000000 "$bin" >/dev/null 2>&1 &
    gw=$!; PIDS+=($gw)
    wait_http "http://127.0.0.1:$pub/health"
    before=$(proc_kib "$gw")
    : >"$out"
    "$SSE_BENCH" --public "127.0.0.1:$pub" --internal "127.0.0.1:$int" --clients "$STREAMS" \
      --measured 0 --hold 12 >"$out" 2>&1 &
    client=$!; PIDS+=($client)
    until grep -q '"phase":"open"' "$out"; do sleep 0.5; kill -0 "$client" 2>/dev/null || break; done
    sleep 5
    held=$(proc_kib "$gw")
    established=$(ss -tn state established "( sport = :$pub )" | tail -n +2 | wc -l)
    per=$(python3 -c "print(f'{($held - $before) / $STREAMS:.2f}')")
    echo "round $round, $(basename "$bin"): $per KiB per stream, $established of $STREAMS established"
    result "sse builds" "RSS per stream, $(basename "$bin"), round $round" "$per KiB"
    kill "$client" "$gw" 2>/dev/null || true; wait "$client" "$gw" 2>/dev/null || true
  done
done
rm -f "$out"
