#!/usr/bin/env bash
# User-space instructions per request, counted by valgrind's callgrind, of a cached-session
# `POST /api/auth/validate` and of `GET /health` on the same gateway build: the per-request
# work behind the validate / health rate ratio of `bench/auth_validate.sh`, in a count that
# does not depend on what else the machine is doing.
# Usage: bash bench/validate_instructions.sh [GATEWAY_BIN...]   (default: this tree's build)
# Needs valgrind.
source "$(dirname "$0")/lib.sh"
command -v valgrind >/dev/null || { echo "install valgrind"; exit 1; }
SECONDS_EACH=${SECONDS_EACH:-10}
build
work=$(mktemp -d)
start_stub
body='{"session_token":"bench-session-token-0001"}'
bins=("$@"); [ ${#bins[@]} -gt 0 ] || bins=("$GATEWAY")
for bin in "${bins[@]}"; do
  for route in health validate; do
    pub=$(free_port); int=$(free_port)
    RUN_ENV=(ROUTER_PORT="$pub" GATEWAY_INTERNAL_PORT="$int" GATEWAY_BIND_HOST=127.0.0.1
      NATS_URL=memory RUST_LOG=error NOETL_BASE_URL="http://127.0.0.1:$stub")
    if [ "$route" = health ]; then LOAD_PATH=/health; LOAD_ARGS=()
    else LOAD_PATH=/api/auth/validate; LOAD_ARGS=(--body "$body"); fi
    callgrind_count validate "$route-$(basename "$bin")" "http://127.0.0.1:$pub" /health -- "$bin"
  done
done
[ -n "${KEEP_WORK:-}" ] && echo "callgrind files kept in $work" || rm -rf "$work"
