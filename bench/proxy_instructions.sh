#!/usr/bin/env bash
# User-space instructions per proxied request, counted by valgrind's callgrind: the gateway
# (`GET /noetl/health`, cached session), the stack's floor (`examples/proxy_floor.rs`) and
# nginx's reverse proxy (one worker, the reference), each in front of the same upstream nginx. Instruction counts do not depend on what else the
# machine is doing, so two builds can be compared on a noisy machine where requests per
# second cannot (kernel time is not counted: both send and receive the same bytes).
# Usage: bash bench/proxy_instructions.sh [GATEWAY_BIN...]   (default: this tree's build)
# KEEP_WORK=1 keeps the callgrind files for callgrind_annotate.
# Needs valgrind and Debian's nginx.
source "$(dirname "$0")/lib.sh"
command -v valgrind >/dev/null || { echo "install valgrind"; exit 1; }
command -v nginx >/dev/null || { echo "install nginx (apt-get install -y nginx-light)"; exit 1; }
SECONDS_EACH=${SECONDS_EACH:-10}
build
work=$(mktemp -d)
up=$(free_port)
start_upstream "$work" "$up"
LOAD_HEADERS=(--header "authorization: Bearer bench-proxy-session")

bins=("$@"); [ ${#bins[@]} -gt 0 ] || bins=("$GATEWAY")
for bin in "${bins[@]}"; do
  pub=$(free_port); int=$(free_port)
  RUN_ENV=(ROUTER_PORT="$pub" GATEWAY_INTERNAL_PORT="$int" GATEWAY_BIND_HOST=127.0.0.1
    NATS_URL=memory RUST_LOG=error NOETL_BASE_URL="http://127.0.0.1:$up")
  callgrind_count proxy "gateway-$(basename "$bin")" "http://127.0.0.1:$pub" /health -- "$bin"
done
fl=$(free_port)
RUN_ENV=(RUST_LOG=error)
callgrind_count proxy floor "http://127.0.0.1:$fl" /noetl/health -- "$TARGET/release/examples/proxy_floor" "$fl" "http://127.0.0.1:$up"
px=$(free_port)
nginx_proxy_conf "$work" "$up" "$px" 1
RUN_ENV=()
callgrind_count proxy nginx "http://127.0.0.1:$px" /noetl/health -- nginx -c "$work/proxy.conf" -p "$work"
[ -n "${KEEP_WORK:-}" ] && echo "callgrind files kept in $work" || rm -rf "$work"
