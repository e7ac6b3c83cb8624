#!/usr/bin/env bash
# Validate of a cached session versus GET /health, same gateway, same load tool, same run.
# Targets: validate reaches >= 0.8x the health rate (closed loop, median of 5 alternating
# rounds); p99 under 1 ms at 50% of validate's peak (open loop, median of 5 runs, with
# /health at the same rate as the reference floor of this machine), measured twice:
#  - shared cores: gateway (2 workers) and the paced load generator (8 threads) share both
#    cores, as they did in earlier runs;
#  - dedicated cores: the gateway on CPU 0 (1 worker), the load generator spinning on CPU 1
#    (`loadgen --spin`), so that neither waits for the other's scheduling; peak and 50% are
#    measured in that same setup.
source "$(dirname "$0")/lib.sh"
SECONDS_EACH=${SECONDS_EACH:-6}
CONNS=${CONNS:-32}
PACED_CONNS=${PACED_CONNS:-8}
build
start_stub; pub=$(free_port); int=$(free_port)
body='{"session_token":"bench-session-token-0001"}'
start_gateway() { # [command prefix...]: a gateway on $pub, its session warmed
  ROUTER_PORT=$pub GATEWAY_INTERNAL_PORT=$int GATEWAY_BIND_HOST=127.0.0.1 NATS_URL=${NATS_URL:-memory} \
    NOETL_BASE_URL=http://127.0.0.1:$stub RUST_LOG=warn "$@" "$GATEWAY" >/dev/null 2>&1 &
  GW_PID=$!; PIDS+=($GW_PID)
  wait_http "http://127.0.0.1:$pub/health"
  local warm
  warm=$(curl -fs -XPOST -H 'content-type: application/json' -d "$body" "http://127.0.0.1:$pub/api/auth/validate")
  [[ $warm == *'"valid":true'* ]] || { echo "the bench session does not validate: $warm" >&2; exit 1; }
}
start_gateway env

run() { "$LOADGEN" --url "http://127.0.0.1:$pub$1" --seconds "$SECONDS_EACH" --connections "$CONNS" "${@:2}"; }
H=(); V=()
for _ in 1 2 3 4 5; do
  H+=("$(json_field "$(run /health)" rps)")
  V+=("$(json_field "$(run /api/auth/validate --body "$body")" rps)")
done
h=$(median "${H[@]}"); v=$(median "${V[@]}")
half=$(python3 -c "print(int($v/2))")
P=(); R=()
for _ in 1 2 3 4 5; do
  P+=("$(json_field "$(run /api/auth/validate --body "$body" --rate "$half" --connections "$PACED_CONNS")" p99_us)")
  R+=("$(json_field "$(run /health --rate "$half" --connections "$PACED_CONNS")" p99_us)")
done
echo "health rps: ${H[*]} -> median $h"
echo "validate rps: ${V[*]} -> median $v"
python3 -c "print(f'ratio validate/health: {$v/$h:.2f} (target >= 0.80)')"
echo "p99 at $half req/s (50% of validate peak), validate: ${P[*]} us -> median $(median "${P[@]}") us (target < 1000)"
echo "p99 at $half req/s, health (reference): ${R[*]} us -> median $(median "${R[@]}") us"
result "cached validate" "health rps" "$h"
result "cached validate" "validate rps" "$v"
result "cached validate" "validate / health" "$(python3 -c "print(f'{$v/$h:.2f}')")" ">= 0.80"
result "cached validate" "validate p99 at 50% load" "$(median "${P[@]}") us (runs ${P[*]})" "< 1000 us"
result "cached validate" "health p99 at the same rate" "$(median "${R[@]}") us (runs ${R[*]})"

echo "== dedicated cores: gateway on CPU 0 (1 worker), load generator on CPU 1"
kill "$GW_PID"; wait "$GW_PID" 2>/dev/null || true
start_gateway env TOKIO_WORKER_THREADS=1 taskset -c 0
pinned() { taskset -c 1 "$LOADGEN" --url "http://127.0.0.1:$pub$1" --seconds "$SECONDS_EACH" "${@:2}"; }
V1=()
for _ in 1 2 3; do V1+=("$(json_field "$(pinned /api/auth/validate --body "$body" --connections "$CONNS")" rps)"); done
v1=$(median "${V1[@]}"); half1=$((v1 / 2))
P1=(); R1=()
for _ in 1 2 3 4 5; do
  P1+=("$(json_field "$(pinned /api/auth/validate --body "$body" --rate "$half1" --connections 16 --spin)" p99_us)")
  R1+=("$(json_field "$(pinned /health --rate "$half1" --connections 16 --spin)" p99_us)")
done
echo "validate rps on one core: ${V1[*]} -> median $v1"
echo "p99 at $half1 req/s (50% of that peak), validate: ${P1[*]} us -> median $(median "${P1[@]}") us (target < 1000)"
echo "p99 at $half1 req/s, health (reference): ${R1[*]} us -> median $(median "${R1[@]}") us"
result "cached validate" "validate rps, gateway on one dedicated core" "$v1"
result "cached validate" "validate p99 at 50% load, dedicated cores" "$(median "${P1[@]}") us (runs ${P1[*]})" "< 1000 us"
result "cached validate" "health p99 at the same rate, dedicated cores" "$(median "${R1[@]}") us (runs ${R1[*]})"
