#!/usr/bin/env bash
# How much of the p99 at half-peak is the scheduler's: the two p99 targets (cached validate,
# with /health as the reference; the proxy's added p99, with nginx as the reference) measured
# in alternating rounds under the kernel's default EEVDF slice and under a short one (SLICE_US,
# default 100 µs) given to every process of the measurement: gateway, nginx, upstream and the
# load generator. Shared cores, 8 paced connections, as in auth_validate.sh and proxy.sh.
# Needs Linux 6.12 or later (custom slices) and Debian's nginx.
source "$(dirname "$0")/lib.sh"
command -v nginx >/dev/null || { echo "install nginx (apt-get install -y nginx-light)"; exit 1; }
SECONDS_EACH=${SECONDS_EACH:-6}
ROUNDS=${ROUNDS:-5}
SLICE_US=${SLICE_US:-100}
build
proxy_stage
pub=$(free_port); int=$(free_port)
# One gateway for both; the upstream nginx also answers NoETL's session check (any token is
# a valid admin session), which fills the gateway's cache before the measured runs.
start_proxy_gateway "$up" "$pub" "$int"
gw=$GW_PID
auth=(--header "authorization: Bearer bench-proxy-session")
body='{"session_token":"bench-proxy-session"}'
curl -fs "${auth[@]/--header/-H}" "http://127.0.0.1:$pub/noetl/health" >/dev/null
valid=$(curl -fs -XPOST -H 'content-type: application/json' -d "$body" "http://127.0.0.1:$pub/api/auth/validate")
[[ $valid == *'"valid":true'* ]] || { echo "the bench session does not validate: $valid" >&2; exit 1; }
servers=("$gw" "$(cat "$work/px.pid")" "$(cat "$work/up.pid")")

SLICE=0
run() { python3 bench/sched_slice.py exec "$SLICE" "$LOADGEN" --url "$1" --seconds "$SECONDS_EACH" "${@:2}"; }
p99() { json_field "$(run "$@" --connections 8)" p99_us; }
v=$(json_field "$(run "http://127.0.0.1:$pub/api/auth/validate" --body "$body" --connections 32)" rps)
g=$(json_field "$(run "http://127.0.0.1:$pub/noetl/health" "${auth[@]}" --connections 32)" rps)
n=$(json_field "$(run "http://127.0.0.1:$px/noetl/health" --connections 32)" rps)
vhalf=$((v / 2)); phalf=$(python3 -c "print(int(min($g, $n) / 2))")
echo "peaks: validate $v, proxy gateway $g, nginx $n; paced at $vhalf (validate, health) and $phalf (proxy) req/s"

declare -A P
for _ in $(seq "$ROUNDS"); do
  for SLICE in 0 "$SLICE_US"; do
    python3 bench/sched_slice.py set "$SLICE" "${servers[@]}"
    P[$SLICE validate]+="$(p99 "http://127.0.0.1:$pub/api/auth/validate" --body "$body" --rate "$vhalf") "
    P[$SLICE health]+="$(p99 "http://127.0.0.1:$pub/health" --rate "$vhalf") "
    P[$SLICE direct]+="$(p99 "http://127.0.0.1:$up/api/health" --rate "$phalf") "
    P[$SLICE nginx]+="$(p99 "http://127.0.0.1:$px/noetl/health" --rate "$phalf") "
    P[$SLICE gateway]+="$(p99 "http://127.0.0.1:$pub/noetl/health" "${auth[@]}" --rate "$phalf") "
  done
done
default_slice=$(awk '/se.slice/ {print $3 / 1000}' /proc/self/sched)
for SLICE in 0 "$SLICE_US"; do
  label="default slice ($default_slice us)"; [ "$SLICE" = 0 ] || label="$SLICE us slice"
  declare -A M=()
  for what in validate health direct nginx gateway; do
    # shellcheck disable=SC2086
    M[$what]=$(median ${P[$SLICE $what]})
    echo "$label, $what p99: ${P[$SLICE $what]}-> ${M[$what]} us"
  done
  result "scheduler slice" "$label: validate / health p99 at $vhalf req/s" "${M[validate]} / ${M[health]} us" "< 1000 us"
  result "scheduler slice" "$label: p99 added by gateway / nginx at $phalf req/s" \
    "$((M[gateway] - M[direct])) / $((M[nginx] - M[direct])) us (direct ${M[direct]} us)" "< 1000 us"
done
rm -rf "$work"
