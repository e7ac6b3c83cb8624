#!/usr/bin/env bash
# User-space instructions per proxied request, counted by valgrind's callgrind: the gateway
# (`GET /noetl/health`, cached session), the stack's floor (`examples/proxy_floor.rs`) and
# nginx's reverse proxy (one worker, the reference), each in front of the same upstream nginx. Instruction counts do not depend on what else the
# machine is doing, so two builds can be compared on a noisy machine where requests per
# second cannot (kernel time is not counted: both send and receive the same bytes).
# Usage: bash bench/proxy_instructions.sh [GATEWAY_BIN...]   (default: this tree's build)
# Needs valgrind and Debian's nginx.
source "$(dirname "$0")/lib.sh"
command -v valgrind >/dev/null || { echo "install valgrind"; exit 1; }
command -v nginx >/dev/null || { echo "install nginx (apt-get install -y nginx-light)"; exit 1; }
SECONDS_EACH=${SECONDS_EACH:-10}
build
work=$(mktemp -d)
up=$(free_port)
start_upstream "$work" "$up"
auth=(--header "authorization: Bearer bench-proxy-session")

# count NAME URL_BASE READY_PATH -- COMMAND...: runs COMMAND under callgrind (with the
# environment in RUN_ENV) with counting off, warms it for 3 s, counts over SECONDS_EACH of
# load on 8 connections, prints instructions per request.
RUN_ENV=()
count() {
  local name=$1 base=$2 ready=$3; shift 4
  env "${RUN_ENV[@]}" valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$work/$name.out" "$@" \
    >/dev/null 2>"$work/$name.err" &
  local vg=$!; PIDS+=($vg)
  for _ in $(seq 240); do curl -fs -o /dev/null "${auth[@]/--header/-H}" "$base$ready" && break; sleep 0.25; done
  callgrind_control -i on "$vg" >/dev/null
  "$LOADGEN" --url "$base/noetl/health" --seconds 3 --connections 8 "${auth[@]}" >/dev/null
  callgrind_control -z "$vg" >/dev/null
  local out
  out=$("$LOADGEN" --url "$base/noetl/health" --seconds "$SECONDS_EACH" --connections 8 "${auth[@]}")
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
  result "proxy" "user-space instructions per request, $name" "$((instructions / requests))"
}

bins=("$@"); [ ${#bins[@]} -gt 0 ] || bins=("$GATEWAY")
for bin in "${bins[@]}"; do
  pub=$(free_port); int=$(free_port)
  RUN_ENV=(ROUTER_PORT="$pub" GATEWAY_INTERNAL_PORT="$int" GATEWAY_BIND_HOST=127.0.0.1
    NATS_URL=memory RUST_LOG=error NOETL_BASE_URL="http://127.0.0.1:$up")
  count "gateway-$(basename "$bin")" "http://127.0.0.1:$pub" /health -- "$bin"
done
fl=$(free_port)
RUN_ENV=(RUST_LOG=error)
count floor "http://127.0.0.1:$fl" /noetl/health -- "$TARGET/release/examples/proxy_floor" "$fl" "http://127.0.0.1:$up"
px=$(free_port)
nginx_proxy_conf "$work" "$up" "$px" 1
RUN_ENV=()
count nginx "http://127.0.0.1:$px" /noetl/health -- nginx -c "$work/proxy.conf" -p "$work"
rm -rf "$work"
