# Shared helpers of the bench scripts: free ports, the release build, process cleanup.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
TARGET=${CARGO_TARGET_DIR:-target}
# GATEWAY_BIN: measure another build of the gateway (say, one with a different allocator).
GATEWAY=${GATEWAY_BIN:-$TARGET/release/noetl-gateway}
LOADGEN=$TARGET/release/examples/loadgen
PIDS=()
cleanup() { for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
# free_port: a free loopback port from below the ephemeral range (scripts/free_ports.py).
free_port() { python3 scripts/free_ports.py; }
build() { cargo build --release --locked --quiet --bin noetl-gateway --example loadgen --example proxy_floor; }
# start_nats DIR PORT: a JetStream nats-server of the bench's own on PORT, storing in DIR,
# waited for until it listens.
start_nats() {
  nats-server -js -a 127.0.0.1 -p "$2" -sd "$1" >"$1/nats.log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 250); do (exec 3<>"/dev/tcp/127.0.0.1/$2") 2>/dev/null && return 0; sleep 0.02; done
  echo "nats-server did not listen on $2" >&2; return 1
}
wait_http() { for _ in $(seq 500); do curl -fs "$1" >/dev/null 2>&1 && return 0; sleep 0.02; done; echo "no answer from $1" >&2; return 1; }
# proc_kib PID [FIELD]: a memory field of /proc/PID/status in KiB (VmRSS unless given).
proc_kib() { awk -v k="${2:-VmRSS}" '$1 == k":" {print $2}' "/proc/$1/status"; }
# start_stub: the NoETL stand-in (bench/noetl_stub.py) on a free port, in $stub, waited for.
start_stub() {
  stub=$(free_port)
  python3 bench/noetl_stub.py "$stub" & PIDS+=($!)
  wait_http "http://127.0.0.1:$stub/api/health"
}
# cpu_ticks PID...: user + system CPU time, in clock ticks (1/100 s), of all threads of the PIDs.
cpu_ticks() { local t=0 s; for p in "$@"; do for s in /proc/"$p"/task/*/stat; do t=$((t + $(awk '{print $14 + $15}' "$s"))); done; done; echo "$t"; }
# median NUMBER...: the middle one (the upper middle of an even count).
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
json_field() { python3 -c "import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])" "$1" "$2"; }
# result BENCH METRIC VALUE [TARGET]: one line of the summary table `bench/run.sh` prints,
# appended to $BENCH_RESULTS when set (a tab-separated file).
result() {
  printf '%s: %s = %s%s\n' "$1" "$2" "$3" "${4:+ (target $4)}"
  if [ -n "${BENCH_RESULTS:-}" ]; then printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "${4:-}" >>"$BENCH_RESULTS"; fi
}
# start_upstream DIR PORT: an nginx on PORT standing in for NoETL behind the proxy benches:
# /api/health, /api/auth/session/validate (a valid admin session for any token),
# /api/upload (takes any body) and /api/download (DIR/big.bin, when the bench made it).
start_upstream() {
  local dir=$1 port=$2
  local session='{"status":"ok","valid":true,"user":{"user_id":1,"email":"b@example.com","display_name":"B","roles":["admin"]},"expires_at":"2099-01-01T00:00:00Z"}'
  cat >"$dir/upstream.conf" <<CONF
worker_processes 1; daemon off; master_process off; pid $dir/up.pid; error_log $dir/up.err;
events { worker_connections 4096; }
http {
  access_log off; client_max_body_size 0; keepalive_requests 1000000;
  server {
    listen 127.0.0.1:$port;
    location = /api/health { default_type application/json; return 200 '{"status":"ok"}'; }
    location = /api/auth/session/validate { default_type application/json; return 200 '$session'; }
    location = /api/upload { client_body_buffer_size 1m; client_body_in_file_only off; proxy_request_buffering off; default_type application/json; return 200 '{"ok":true}'; }
    location = /api/download { alias $dir/big.bin; }
  }
}
CONF
  nginx -c "$dir/upstream.conf" -p "$dir" & PIDS+=($!)
  wait_http "http://127.0.0.1:$port/api/health"
}
# nginx_proxy_conf DIR UPSTREAM_PORT PORT WORKERS: writes DIR/proxy.conf, the nginx reverse
# proxy the gateway is compared with (proxy_pass to the upstream, keepalive upstream
# connections). With one worker it runs as a single process (no master), as valgrind needs.
nginx_proxy_conf() {
  local dir=$1 up=$2 port=$3 workers=$4 master=on
  [ "$workers" -gt 1 ] || master=off
  cat >"$dir/proxy.conf" <<CONF
worker_processes $workers; daemon off; master_process $master; pid $dir/px.pid; error_log $dir/px.err;
events { worker_connections 4096; }
http {
  access_log off; keepalive_requests 1000000;
  upstream noetl { server 127.0.0.1:$up; keepalive 64; }
  server {
    listen 127.0.0.1:$port;
    location /noetl/ { proxy_pass http://noetl/api/; proxy_http_version 1.1; proxy_set_header Connection ""; }
  }
}
CONF
}
# start_nginx_proxy DIR UPSTREAM_PORT PORT: the reference reverse proxy (2 workers) on PORT.
start_nginx_proxy() {
  nginx_proxy_conf "$1" "$2" "$3" 2
  nginx -c "$1/proxy.conf" -p "$1" & PIDS+=($!)
  wait_http "http://127.0.0.1:$3/noetl/health"
}
# proxy_stage: a work directory ($work), the upstream on $up and nginx's reverse proxy in
# front of it on $px, as the proxy benches use them.
proxy_stage() {
  work=$(mktemp -d); up=$(free_port); px=$(free_port)
  start_upstream "$work" "$up"
  start_nginx_proxy "$work" "$up" "$px"
}
# start_proxy_gateway UPSTREAM_PORT PORT INTERNAL_PORT [VAR=VALUE...]: a gateway on PORT in
# front of the upstream (memory bus, errors-only logs), extra settings as VAR=VALUE; its pid
# in GW_PID.
start_proxy_gateway() {
  env ROUTER_PORT="$2" GATEWAY_INTERNAL_PORT="$3" GATEWAY_BIND_HOST=127.0.0.1 NATS_URL=memory \
    RUST_LOG=error NOETL_BASE_URL="http://127.0.0.1:$1" "${@:4}" "$GATEWAY" >/dev/null 2>&1 &
  GW_PID=$!; PIDS+=($GW_PID)
  wait_http "http://127.0.0.1:$2/health"
}
# callgrind_count BENCH NAME URL_BASE READY_PATH -- COMMAND...: runs COMMAND under callgrind
# (environment from RUN_ENV, files in $work) with counting off, warms it for 3 s, then counts
# over SECONDS_EACH of requests to URL_BASE$LOAD_PATH (default GET /noetl/health) on 8
# connections (headers from LOAD_HEADERS, other load generator arguments such as --body from
# LOAD_ARGS) and reports the user-space instructions per request as a result of BENCH.
RUN_ENV=(); LOAD_HEADERS=(); LOAD_ARGS=(); LOAD_PATH=/noetl/health
callgrind_count() {
  local bench=$1 name=$2 base=$3 ready=$4; shift 5
  env "${RUN_ENV[@]}" valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$work/$name.out" "$@" \
    >/dev/null 2>"$work/$name.err" &
  local vg=$!; PIDS+=($vg)
  for _ in $(seq 240); do curl -fs -o /dev/null "${LOAD_HEADERS[@]/--header/-H}" "$base$ready" && break; sleep 0.25; done
  callgrind_control -i on "$vg" >/dev/null
  "$LOADGEN" --url "$base$LOAD_PATH" --seconds 3 --connections 8 "${LOAD_HEADERS[@]}" "${LOAD_ARGS[@]}" >/dev/null
  callgrind_control -z "$vg" >/dev/null
  local out
  out=$("$LOADGEN" --url "$base$LOAD_PATH" --seconds "$SECONDS_EACH" --connections 8 "${LOAD_HEADERS[@]}" "${LOAD_ARGS[@]}")
  callgrind_control -d "$vg" >/dev/null
  kill "$vg"; wait "$vg" 2>/dev/null || true
  local requests instructions
  requests=$(json_field "$out" requests)
  if [ "$requests" -eq 0 ] || [ "$(json_field "$out" errors)" -ne 0 ]; then
    echo "$name: requests failed under load: $out" >&2
    return 1
  fi
  instructions=$(awk '/^totals:/ {print $2}' "$(grep -l 'Trigger: dump' "$work/$name.out"*)")
  echo "$name: $requests requests, $instructions instructions, $((instructions / requests)) per request"
  result "$bench" "user-space instructions per request, $name" "$((instructions / requests))"
}
