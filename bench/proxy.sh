#!/usr/bin/env bash
# Proxy throughput and added latency: GET /noetl/health through the gateway (cached session)
# versus nginx (proxy_pass, keepalive upstream) versus the upstream directly, same load tool,
# same run. Targets: gateway >= 1.0x nginx; p99 added latency (gateway p99 - direct p99 at
# the same paced rate) under 1 ms; also reported at a light fixed rate (LIGHT_RATE, 5,000/s).
# Then 1 GiB up and 1 GiB down through the gateway while its
# RSS high-water mark grows by less than 64 MiB. Needs Debian's nginx.
source "$(dirname "$0")/lib.sh"
command -v nginx >/dev/null || { echo "install nginx (apt-get install -y nginx-light)"; exit 1; }
SECONDS_EACH=${SECONDS_EACH:-6}
CONNS=${CONNS:-32}
build
proxy_stage
truncate -s 1G "$work/big.bin"
pub=$(free_port); int=$(free_port)
start_proxy_gateway "$up" "$pub" "$int" GATEWAY_PROXY_MAX_BODY_BYTES=2147483648
gw=$GW_PID
auth=(--header "authorization: Bearer bench-proxy-session")
curl -fs "${auth[@]/--header/-H}" "http://127.0.0.1:$pub/noetl/health" >/dev/null

# The stack's floor: hyper's server handing each request straight to the gateway's forwarder
# (no routing, auth or header rules), for where the gateway's own work starts.
fl=$(free_port)
"$TARGET/release/examples/proxy_floor" "$fl" "http://127.0.0.1:$up" & floor=$!; PIDS+=($floor)
wait_http "http://127.0.0.1:$fl/noetl/health"
nginx_workers=$(pgrep -P "$(cat "$work/px.pid")" | tr '\n' ' ')

run() { "$LOADGEN" --url "$1" --seconds "$SECONDS_EACH" --connections "$CONNS" "${@:2}"; }
# measured PIDS -- LOADGEN ARGS: runs the load, prints "rps cpu_us_per_request" of PIDS.
measured() {
  local pids=() before after out
  while [ "$1" != -- ]; do pids+=("$1"); shift; done; shift
  before=$(cpu_ticks "${pids[@]}"); out=$(run "$@"); after=$(cpu_ticks "${pids[@]}")
  python3 -c "import json; r=json.loads('$out')['rps']; print(r, round(($after-$before)*1e4/(r*$SECONDS_EACH), 1))"
}
D=(); N=(); G=(); F=(); NC=(); GC=(); FC=()
for _ in 1 2 3; do
  D+=("$(json_field "$(run "http://127.0.0.1:$up/api/health")" rps)")
  read -r r c < <(measured $nginx_workers -- "http://127.0.0.1:$px/noetl/health"); N+=("$r"); NC+=("$c")
  read -r r c < <(measured "$gw" -- "http://127.0.0.1:$pub/noetl/health" "${auth[@]}"); G+=("$r"); GC+=("$c")
  read -r r c < <(measured "$floor" -- "http://127.0.0.1:$fl/noetl/health"); F+=("$r"); FC+=("$c")
done
d=$(median "${D[@]}"); n=$(median "${N[@]}"); g=$(median "${G[@]}"); f=$(median "${F[@]}")
nc=$(median "${NC[@]}"); gc=$(median "${GC[@]}"); fc=$(median "${FC[@]}")
echo "direct rps: ${D[*]} -> $d"
echo "nginx rps: ${N[*]} -> $n; CPU per request ${NC[*]} -> $nc us"
echo "gateway rps: ${G[*]} -> $g; CPU per request ${GC[*]} -> $gc us"
echo "floor (hyper + forwarder) rps: ${F[*]} -> $f; CPU per request ${FC[*]} -> $fc us"
python3 -c "print(f'gateway / nginx: {$g/$n:.2f} (target >= 1.0); gateway / direct: {$g/$d:.2f}; floor / nginx: {$f/$n:.2f}')"
rate=$(python3 -c "print(int(min($g, $n) / 2))")
# p99s RATE: median p99 (3 paced runs, 8 connections) of direct, nginx and the gateway at
# RATE req/s, into $P99_DIRECT, $P99_NGINX and $P99_GATEWAY.
p99s() {
  local D=() N=() G=()
  for _ in 1 2 3; do
    D+=("$(json_field "$(run "http://127.0.0.1:$up/api/health" --rate "$1" --connections 8)" p99_us)")
    N+=("$(json_field "$(run "http://127.0.0.1:$px/noetl/health" --rate "$1" --connections 8)" p99_us)")
    G+=("$(json_field "$(run "http://127.0.0.1:$pub/noetl/health" "${auth[@]}" --rate "$1" --connections 8)" p99_us)")
  done
  P99_DIRECT=$(median "${D[@]}"); P99_NGINX=$(median "${N[@]}"); P99_GATEWAY=$(median "${G[@]}")
  echo "p99 at $1 req/s: direct ${D[*]} -> $P99_DIRECT us; nginx ${N[*]} -> $P99_NGINX us; gateway ${G[*]} -> $P99_GATEWAY us"
}
p99s "$rate"
pd=$P99_DIRECT; pn=$P99_NGINX; pg=$P99_GATEWAY
echo "p99 added by the gateway: $((pg - pd)) us (target < 1000); by nginx: $((pn - pd)) us"
result "proxy" "direct rps" "$d"
result "proxy" "nginx rps" "$n"
result "proxy" "gateway rps" "$g"
result "proxy" "gateway / nginx" "$(python3 -c "print(f'{$g/$n:.2f}')")" ">= 1.0"
result "proxy" "floor rps (hyper + forwarder, no routing or auth)" "$f"
result "proxy" "CPU per request: nginx / gateway / floor" "$nc / $gc / $fc us"
result "proxy" "p99 added by the gateway" "$((pg - pd)) us" "< 1000 us"
result "proxy" "p99 added by nginx" "$((pn - pd)) us"

# The same at a light, fixed rate (a replica's everyday load rather than half its peak).
LIGHT=${LIGHT_RATE:-5000}
p99s "$LIGHT"
ld=$P99_DIRECT; ln=$P99_NGINX; lg=$P99_GATEWAY
result "proxy" "p99 added by the gateway at $LIGHT req/s" "$((lg - ld)) us"
result "proxy" "p99 added by nginx at $LIGHT req/s" "$((ln - ld)) us"

before=$(proc_kib "$gw")
up_code=$(curl -s -o /dev/null -w '%{http_code}' -H 'authorization: Bearer bench-proxy-session' -H 'content-type: application/octet-stream' \
  -T "$work/big.bin" "http://127.0.0.1:$pub/noetl/upload")
down_bytes=$(curl -s -H 'authorization: Bearer bench-proxy-session' "http://127.0.0.1:$pub/noetl/download" | wc -c)
peak=$(proc_kib "$gw" VmHWM)
echo "1 GiB upload: HTTP $up_code; 1 GiB download: $down_bytes bytes"
python3 -c "print(f'gateway RSS before {$before} KiB, high-water mark after {$peak} KiB: grew {($peak-$before)/1024:.1f} MiB (target < 64)')"
result "proxy" "RSS growth over 1 GiB up + 1 GiB down" "$(python3 -c "print(f'{($peak-$before)/1024:.1f} MiB')")" "< 64 MiB"
rm -rf "$work"
