#!/usr/bin/env bash
# SSE capacity and callback-to-client latency.
#  1. capacity: CLIENTS (default 19900) event streams held by one gateway in single-replica
#     mode, one HTTP/1.1 connection each; RSS per connection = (RSS holding them - RSS
#     before) / CLIENTS. Targets: 20,000 streams, < 16 KiB each. The client side is split
#     over two processes; a process here may hold at most `ulimit -Hn` (20,000 on these
#     machines) descriptors, gateway included. Then H2_CLIENTS (20,000) streams over
#     H2_CONNECTIONS (100) HTTP/2 connections, as behind an HTTP/2 proxy.
#  2. latency: 1,000 progress callbacks/s for 10 s to 100 streaming clients, over NATS
#     JetStream, callbacks posted to the same replica and to another replica. Targets: p99
#     < 10 ms same replica, < 25 ms across replicas.
source "$(dirname "$0")/lib.sh"
CLIENTS=${CLIENTS:-19900}
ulimit -n "$(ulimit -Hn)"
cargo build --release --locked --quiet --bin noetl-gateway --example sse_bench
SSE_BENCH=$TARGET/release/examples/sse_bench
start_stub

# Every stream is one session's (the per-stream figure is then free of the session lookups'
# effect; see bench/README.md), so that session's stream bound is lifted; so is the
# listener's connection bound, which the open-file limit would otherwise set just under the
# streams this script opens.
start_gateway() { # name nats_url [internal_url]
  local pub int; pub=$(free_port); int=$(free_port)
  ROUTER_PORT=$pub GATEWAY_INTERNAL_PORT=$int GATEWAY_BIND_HOST=127.0.0.1 GATEWAY_INTERNAL_BIND_HOST=127.0.0.1 \
    NATS_URL=$2 NOETL_BASE_URL=http://127.0.0.1:$stub RUST_LOG=error GATEWAY_WATCH_GRACE_SECS=3600 \
    GATEWAY_HEARTBEAT_INTERVAL_SECS=30 GATEWAY_MAX_STREAMS_PER_SESSION=1000000 GATEWAY_MAX_CONNECTIONS=1000000 "$GATEWAY" >/dev/null 2>&1 &
  local pid=$!; PIDS+=($pid)
  wait_http "http://127.0.0.1:$pub/health"
  eval "$1_PUB=127.0.0.1:$pub $1_INT=127.0.0.1:$int $1_PID=$pid"
}

echo "== capacity: $CLIENTS streams, single-replica mode"
start_gateway G memory
base=$(proc_kib "$G_PID")
half=$((CLIENTS / 2))
out1=$(mktemp); out2=$(mktemp)
"$SSE_BENCH" --public "$G_PUB" --internal "$G_INT" --clients "$half" --offset "$half" --measured 0 --hold 8 >"$out2" &
bench2=$!
"$SSE_BENCH" --public "$G_PUB" --internal "$G_INT" --clients $((CLIENTS - half)) --measured 100 --rate 1000 --seconds 10 --hold 4 >"$out1" &
bench1=$!
for out in "$out1" "$out2"; do
  until grep -q '"phase":"open"' "$out" 2>/dev/null; do sleep 0.5; kill -0 $bench1 2>/dev/null || break; done
done
sleep 1
held=$(proc_kib "$G_PID")
wait $bench1 $bench2 || true
cat "$out1" "$out2"
opened=$(cat "$out1" "$out2" | grep '"phase":"open"' | python3 -c 'import json,sys; print(sum(json.loads(l)["clients"] for l in sys.stdin))')
python3 -c "print(f'RSS before {$base} KiB, holding {$opened} streams {$held} KiB: {($held-$base)/max($opened,1):.1f} KiB per stream (target < 16)')"
result "sse" "streams held by one gateway" "$opened" "20000"
result "sse" "RSS per stream" "$(python3 -c "print(f'{($held-$base)/max($opened,1):.1f} KiB')")" "< 16 KiB"
latency() { # label file
  python3 - "$1" "$2" <<'PY'
import json, sys
for line in open(sys.argv[2]):
    if '"phase":"latency"' in line:
        r = json.loads(line)
        print(f"{r['p50_us']/1000:.2f} / {r['p99_us']/1000:.2f} ms ({r['received']}/{r['callbacks']} received)")
PY
}
result "sse" "p50 / p99, single replica (memory)" "$(latency memory "$out1")"
kill "$G_PID" 2>/dev/null || true

# The same gateway behind an HTTP/2 hop (an ingress or a browser speaking HTTP/2): each
# client is still a stream of its own, but they share H2_CONNECTIONS connections, so the
# descriptor limit no longer caps them.
H2_CLIENTS=${H2_CLIENTS:-20000}; H2_CONNECTIONS=${H2_CONNECTIONS:-100}
echo "== capacity: $H2_CLIENTS streams over $H2_CONNECTIONS HTTP/2 connections, single-replica mode"
start_gateway H memory
base=$(proc_kib "$H_PID")
out3=$(mktemp)
"$SSE_BENCH" --public "$H_PUB" --internal "$H_INT" --clients "$H2_CLIENTS" --http2 "$H2_CONNECTIONS" --measured 0 --hold 4 >"$out3" &
bench3=$!
until grep -q '"phase":"open"' "$out3" 2>/dev/null; do sleep 0.5; kill -0 $bench3 2>/dev/null || break; done
sleep 1
held=$(proc_kib "$H_PID")
wait $bench3 || true
cat "$out3"
opened=$(grep '"phase":"open"' "$out3" | python3 -c 'import json,sys; print(sum(json.loads(l)["clients"] for l in sys.stdin))')
python3 -c "print(f'RSS before {$base} KiB, holding {$opened} HTTP/2 streams {$held} KiB: {($held-$base)/max($opened,1):.1f} KiB per stream')"
result "sse" "streams held over $H2_CONNECTIONS HTTP/2 connections" "$opened" "20000"
result "sse" "RSS per stream over HTTP/2" "$(python3 -c "print(f'{($held-$base)/max($opened,1):.1f} KiB')")" "< 16 KiB"
kill "$H_PID" 2>/dev/null || true

echo "== latency over NATS JetStream, 100 clients"
nport=$(free_port); store=$(mktemp -d)
start_nats "$store" "$nport"
start_gateway A "nats://127.0.0.1:$nport"
start_gateway B "nats://127.0.0.1:$nport"
sleep 1
echo "-- callbacks to the same replica"
same=$(mktemp); other=$(mktemp)
"$SSE_BENCH" --public "$A_PUB" --internal "$A_INT" --clients 100 --measured 100 --rate 1000 --seconds 10 --offset 100000 | tee "$same"
echo "-- callbacks to another replica"
"$SSE_BENCH" --public "$A_PUB" --internal "$B_INT" --clients 100 --measured 100 --rate 1000 --seconds 10 --offset 200000 | tee "$other"
result "sse" "p50 / p99 at 1,000 callbacks/s, same replica (NATS)" "$(latency same "$same")" "p99 < 10 ms"
result "sse" "p50 / p99 at 1,000 callbacks/s, across replicas (NATS)" "$(latency other "$other")" "p99 < 25 ms"
