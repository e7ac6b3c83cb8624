#!/usr/bin/env bash
# Two gateway builds side by side on the REST chain: requests per second and CPU time per
# request of `GET /health` and of a cached-session `POST /api/auth/validate`, in alternating
# closed-loop rounds (both gateways run the whole time, only one is loaded at a time), so
# that a machine whose speed drifts treats both builds alike. Medians of ROUNDS.
# Usage: bash bench/ab.sh BIN_A BIN_B
source "$(dirname "$0")/lib.sh"
[ $# -eq 2 ] || { echo "usage: bash bench/ab.sh BIN_A BIN_B"; exit 2; }
SECONDS_EACH=${SECONDS_EACH:-5}
CONNS=${CONNS:-32}
ROUNDS=${ROUNDS:-5}
build
start_stub
body='{"session_token":"bench-session-token-0001"}'
ports=(); pids=()
for bin in "$1" "$2"; do
  pub=$(free_port); int=$(free_port)
  ROUTER_PORT=$pub GATEWAY_INTERNAL_PORT=$int GATEWAY_BIND_HOST=127.0.0.1 NATS_URL=memory \
    NOETL_BASE_URL=http://127.0.0.1:$stub RUST_LOG=warn "$bin" >/dev/null 2>&1 &
  pids+=($!); PIDS+=($!); ports+=("$pub")
  wait_http "http://127.0.0.1:$pub/health"
  curl -fs -XPOST -H 'content-type: application/json' -d "$body" "http://127.0.0.1:$pub/api/auth/validate" >/dev/null
done
# round I ROUTE: "rps cpu_us_per_request" of build I on ROUTE (health or validate).
round() {
  local args=(--url "http://127.0.0.1:${ports[$1]}/health") before after out
  [ "$2" = validate ] && args=(--url "http://127.0.0.1:${ports[$1]}/api/auth/validate" --body "$body")
  before=$(cpu_ticks "${pids[$1]}")
  out=$("$LOADGEN" "${args[@]}" --seconds "$SECONDS_EACH" --connections "$CONNS")
  after=$(cpu_ticks "${pids[$1]}")
  python3 -c "import json; r=json.loads('$out')['rps']; print(r, round(($after-$before)*1e4/(r*$SECONDS_EACH), 2))"
}
for route in health validate; do
  RA=(); RB=(); CA=(); CB=()
  for _ in $(seq "$ROUNDS"); do
    read -r r c < <(round 0 "$route"); RA+=("$r"); CA+=("$c")
    read -r r c < <(round 1 "$route"); RB+=("$r"); CB+=("$c")
  done
  echo "$route A ($(basename "$1")): rps ${RA[*]} -> $(median "${RA[@]}"); CPU us/request ${CA[*]} -> $(median "${CA[@]}")"
  echo "$route B ($(basename "$2")): rps ${RB[*]} -> $(median "${RB[@]}"); CPU us/request ${CB[*]} -> $(median "${CB[@]}")"
done
