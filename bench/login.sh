#!/usr/bin/env bash
# Login throughput against the NoETL stand-in (bench/noetl_stub.py), both ways the gateway
# reaches NoETL for auth: the login playbook (execute, then the worker's callback on the
# internal listener) and NoETL's synchronous login route. Closed loop over CONNS
# connections for SECONDS_EACH seconds, 3 rounds each, medians; NATS_URL=memory. No target
# is set for it; the stand-in (a Python threaded server) is part of what is measured.
source "$(dirname "$0")/lib.sh"
SECONDS_EACH=${SECONDS_EACH:-6}
CONNS=${CONNS:-16}
build
start_stub
body='{"auth0_token":"idp-token-for-the-login-bench"}'
for mode in playbook direct; do
  pub=$(free_port); int=$(free_port)
  ROUTER_PORT=$pub GATEWAY_INTERNAL_PORT=$int GATEWAY_BIND_HOST=127.0.0.1 GATEWAY_INTERNAL_BIND_HOST=127.0.0.1 \
    NATS_URL=memory GATEWAY_AUTH_MODE=$mode NOETL_BASE_URL=http://127.0.0.1:$stub RUST_LOG=error \
    "$GATEWAY" >/dev/null 2>&1 & pid=$!; PIDS+=($pid)
  wait_http "http://127.0.0.1:$pub/health"
  first=$(curl -fs -XPOST -H 'content-type: application/json' -d "$body" "http://127.0.0.1:$pub/api/auth/login")
  [[ $first == *'"authenticated"'* ]] || { echo "login does not work in $mode mode: $first" >&2; exit 1; }
  R=(); P=()
  for _ in 1 2 3; do
    out=$("$LOADGEN" --url "http://127.0.0.1:$pub/api/auth/login" --body "$body" --seconds "$SECONDS_EACH" --connections "$CONNS")
    errors=$(json_field "$out" errors)
    [ "$errors" = 0 ] || { echo "$errors logins failed in $mode mode" >&2; exit 1; }
    R+=("$(json_field "$out" rps)"); P+=("$(json_field "$out" p99_us)")
  done
  echo "$mode logins/s: ${R[*]}; p99 us: ${P[*]}"
  result "login" "$mode: logins/s, p99" "$(median "${R[@]}")/s, $(median "${P[@]}") us"
  kill "$pid" 2>/dev/null || true
done
