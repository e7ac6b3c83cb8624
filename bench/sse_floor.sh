#!/usr/bin/env bash
# What one idle SSE connection costs in this stack without the gateway: examples/sse_floor.rs
# serves a one-frame /events five ways (poem's Server; hyper-util's auto builder; hyper's
# HTTP/1.1 builder with poem's SSE response; the same with frames as body chunks; hyper with
# a hand-written body) and STREAMS (default 8000) streams are held on each; prints RSS per
# stream. Not part of run.sh: it explains the gateway's own number (bench/sse.sh).
source "$(dirname "$0")/lib.sh"
STREAMS=${STREAMS:-8000}
ulimit -n "$(ulimit -Hn)"
cargo build --release --locked --quiet --example sse_floor --example sse_bench
for mode in poem-server auto h1-sse h1-chunks h1-raw; do
  port=$(free_port)
  "$TARGET/release/examples/sse_floor" "$port" "$mode" & pid=$!; PIDS+=($pid)
  until curl -s -m 0.2 -o /dev/null "http://127.0.0.1:$port/"; [ $? -ne 7 ]; do sleep 0.05; done
  base=$(proc_kib "$pid")
  out=$(mktemp)
  "$TARGET/release/examples/sse_bench" --public "127.0.0.1:$port" --internal 127.0.0.1:9 \
    --clients "$STREAMS" --measured 0 --hold 3 >"$out" & bench=$!
  until grep -q '"phase":"open"' "$out" 2>/dev/null; do sleep 0.3; done
  sleep 1
  held=$(proc_kib "$pid")
  wait $bench || true
  opened=$(json_field "$(grep '"phase":"open"' "$out")" clients)
  echo "$mode: $opened streams, $(python3 -c "print(f'{($held-$base)/max($opened,1):.1f}')") KiB per stream"
  kill "$pid"; wait "$pid" 2>/dev/null || true
done
