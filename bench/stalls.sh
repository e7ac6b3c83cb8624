#!/usr/bin/env bash
# When the slow requests fall: nginx answering a fixed body, the gateway's GET /health and a
# cached validate, each alone on CPU 0 (one worker) at the same paced rate (RATE, default
# 30,000 req/s), with `loadgen --spin` on CPU 1 writing each request's due time and latency
# (LOADGEN_TIMELINE). Slow requests (over 1 ms) are grouped into episodes (slow ones less than
# 2 ms apart); the script prints each server's p99, its share of slow requests, its episodes,
# and the spacings between episode starts that recur most often across all three servers. A
# spacing shared by all three is the machine's, not any server's. First, with no server at all,
# two loops that only read the clock, one pinned to each core, record every gap over 1 ms in
# their own running (the machine taking a busy core away). Needs Debian's nginx.
source "$(dirname "$0")/lib.sh"
command -v nginx >/dev/null || { echo "install nginx (apt-get install -y nginx-light)"; exit 1; }
SECONDS_EACH=${SECONDS_EACH:-6}
RATE=${RATE:-30000}
RUNS=${RUNS:-2}
build
work=$(mktemp -d); ngx=$(free_port)
clock_loop() { # CPU: gaps over 1 ms in a clock-reading loop on CPU, as "start_ms:gap_ms" words
  taskset -c "$1" python3 -c '
import sys, time
start = prev = time.monotonic_ns(); end = start + int(float(sys.argv[1]) * 1e9); gaps = []
while prev < end:
    now = time.monotonic_ns()
    if now - prev > 1_000_000:
        gaps.append(f"{(prev - start) // 1_000_000}:{(now - prev) / 1e6:.1f}")
    prev = now
print(" ".join(gaps))' "$SECONDS_EACH"
}
clock_loop 0 >"$work/clock0" & loop0=$!
clock_loop 1 >"$work/clock1"; wait "$loop0"
cat >"$work/fixed.conf" <<CONF
worker_processes 1; daemon off; master_process off; pid $work/fixed.pid; error_log $work/fixed.err;
events { worker_connections 4096; }
http { access_log off; keepalive_requests 1000000;
  server { listen 127.0.0.1:$ngx; location = /health { default_type application/json; return 200 '{"status":"ok"}'; } } }
CONF
taskset -c 0 nginx -c "$work/fixed.conf" -p "$work" & PIDS+=($!)
wait_http "http://127.0.0.1:$ngx/health"
start_stub; pub=$(free_port); int=$(free_port)
body='{"session_token":"bench-session-token-0001"}'
ROUTER_PORT=$pub GATEWAY_INTERNAL_PORT=$int GATEWAY_BIND_HOST=127.0.0.1 NATS_URL=memory \
  NOETL_BASE_URL=http://127.0.0.1:$stub RUST_LOG=warn TOKIO_WORKER_THREADS=1 \
  taskset -c 0 "$GATEWAY" >/dev/null 2>&1 & PIDS+=($!)
wait_http "http://127.0.0.1:$pub/health"
warm=$(curl -fs -XPOST -H 'content-type: application/json' -d "$body" "http://127.0.0.1:$pub/api/auth/validate")
[[ $warm == *'"valid":true'* ]] || { echo "the bench session does not validate: $warm" >&2; exit 1; }

paced() { # NAME URL [ARGS...]: one paced run, its timeline in $work/NAME.RUN
  LOADGEN_TIMELINE="$work/$1.$run" taskset -c 1 "$LOADGEN" --url "$2" --seconds "$SECONDS_EACH" \
    --rate "$RATE" --connections 16 --spin "${@:3}" >/dev/null
}
for run in $(seq "$RUNS"); do
  paced nginx "http://127.0.0.1:$ngx/health"
  paced health "http://127.0.0.1:$pub/health"
  paced validate "http://127.0.0.1:$pub/api/auth/validate" --body "$body"
done
python3 - "$work" "$RUNS" "$RATE" <<'PY'
import collections, sys
work, runs, rate = sys.argv[1], int(sys.argv[2]), sys.argv[3]
spacings = collections.Counter()
for cpu in (0, 1):
    gaps = open(f"{work}/clock{cpu}").read().split()
    print(f"clock loop on CPU {cpu}, both cores busy: {len(gaps)} gaps over 1 ms (start_ms:gap_ms): "
          + " ".join(gaps))
print(f"paced at {rate} req/s, server on CPU 0, load generator on CPU 1")
for name in ("nginx", "health", "validate"):
    for run in range(1, runs + 1):
        rows = [tuple(map(int, line.split())) for line in open(f"{work}/{name}.{run}")]
        lat = sorted(us for _, us in rows)
        p99 = lat[int(len(lat) * 0.99)]
        episodes = []  # [first due, last due, worst latency]
        for due, us in rows:
            if us <= 1000:
                continue
            if episodes and due - episodes[-1][1] < 2000:
                episodes[-1][1] = due
                episodes[-1][2] = max(episodes[-1][2], us)
            else:
                episodes.append([due, due, us])
        slow = sum(1 for us in lat if us > 1000)
        starts = [e[0] for e in episodes]
        for i, a in enumerate(starts):
            for b in starts[i + 1:]:
                if b - a > 1100_000:
                    break
                if b - a >= 200_000:
                    spacings[round((b - a) / 4000) * 4] += 1
        print(f"{name:8} run {run}: p99 {p99} us, over 1 ms {100 * slow / len(lat):.2f}%, "
              f"{len(episodes)} episodes, worst {max((e[2] for e in episodes), default=0) / 1000:.1f} ms")
        print("   starts (ms): " + " ".join(f"{e[0] // 1000}" for e in episodes))
print("spacings between episode starts seen most often (ms, all servers): "
      + ", ".join(f"{ms} ({n}x)" for ms, n in spacings.most_common(5)))
PY
