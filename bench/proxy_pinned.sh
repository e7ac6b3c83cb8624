#!/usr/bin/env bash
# The proxy's added p99 with the load generator off the proxies' core: the upstream and the
# proxy under test share CPU 0 (the gateway with one tokio worker, nginx with one worker, as
# each would be configured for one core), and the load generator busy-polls on CPU 1
# (`loadgen --spin`, latency counted from each request's due time), so that neither side
# waits for the other's scheduling. Peak rates are measured in the same setup (closed loop,
# 3 rounds); the p99s are paced at half of the slower proxy's peak, 5 runs each, medians.
# Target (issue: proxy): p99 added by the gateway (its p99 minus the upstream's direct p99)
# under 1 ms. Needs Debian's nginx.
source "$(dirname "$0")/lib.sh"
command -v nginx >/dev/null || { echo "install nginx (apt-get install -y nginx-light)"; exit 1; }
SECONDS_EACH=${SECONDS_EACH:-6}
build
work=$(mktemp -d); up=$(free_port); px=$(free_port); pub=$(free_port); int=$(free_port)
start_upstream "$work" "$up"
nginx_proxy_conf "$work" "$up" "$px" 1
nginx -c "$work/proxy.conf" -p "$work" & PIDS+=($!)
wait_http "http://127.0.0.1:$px/noetl/health"
start_proxy_gateway "$up" "$pub" "$int" TOKIO_WORKER_THREADS=1
auth=(--header "authorization: Bearer bench-proxy-session")
curl -fs -H "authorization: Bearer bench-proxy-session" "http://127.0.0.1:$pub/noetl/health" >/dev/null
for pid in "$(cat "$work/up.pid")" "$(cat "$work/px.pid")" "$GW_PID"; do taskset -apc 0 "$pid" >/dev/null; done

load() { taskset -c 1 "$LOADGEN" --url "$1" --seconds "$SECONDS_EACH" "${@:2}"; }
N=(); G=()
for _ in 1 2 3; do
  N+=("$(json_field "$(load "http://127.0.0.1:$px/noetl/health" --connections 32)" rps)")
  G+=("$(json_field "$(load "http://127.0.0.1:$pub/noetl/health" "${auth[@]}" --connections 32)" rps)")
done
n=$(median "${N[@]}"); g=$(median "${G[@]}")
rate=$(python3 -c "print(int(min($g, $n) / 2))")
D=(); PN=(); PG=()
for _ in 1 2 3 4 5; do
  D+=("$(json_field "$(load "http://127.0.0.1:$up/api/health" --rate "$rate" --connections 16 --spin)" p99_us)")
  PN+=("$(json_field "$(load "http://127.0.0.1:$px/noetl/health" --rate "$rate" --connections 16 --spin)" p99_us)")
  PG+=("$(json_field "$(load "http://127.0.0.1:$pub/noetl/health" "${auth[@]}" --rate "$rate" --connections 16 --spin)" p99_us)")
done
d=$(median "${D[@]}"); pn=$(median "${PN[@]}"); pg=$(median "${PG[@]}")
echo "peak on one core: nginx ${N[*]} -> $n; gateway ${G[*]} -> $g"
echo "p99 at $rate req/s: direct ${D[*]} -> $d us; nginx ${PN[*]} -> $pn us; gateway ${PG[*]} -> $pg us"
result "proxy, pinned" "peak on one core, nginx / gateway" "$n / $g"
result "proxy, pinned" "p99 added by the gateway at $rate req/s" "$((pg - d)) us (gateway runs ${PG[*]}; direct ${D[*]})" "< 1000 us"
result "proxy, pinned" "p99 added by nginx at $rate req/s" "$((pn - d)) us (runs ${PN[*]})"
rm -rf "$work"
