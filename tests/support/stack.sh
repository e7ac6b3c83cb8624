# Sourced by the scripted checks (browser, TypeScript client, schemathesis): builds the
# gateway, starts it with the Python NoETL stand-in (bench/noetl_stub.py) on free ports,
# waits until both answer, and stops both on exit. Sets GATEWAY_URL and INTERNAL_URL.
# Extra gateway settings may be passed as NAME=value arguments to start_stack.

start_stack() {
  local target=${CARGO_TARGET_DIR:-target}
  cargo build --locked --quiet --bin noetl-gateway
  local stub pub int
  read -r stub pub int < <(python3 scripts/free_ports.py 3)
  STACK_PIDS=()
  trap 'kill "${STACK_PIDS[@]}" 2>/dev/null || true' EXIT
  python3 bench/noetl_stub.py "$stub" & STACK_PIDS+=($!)
  env ROUTER_PORT="$pub" GATEWAY_INTERNAL_PORT="$int" GATEWAY_BIND_HOST=127.0.0.1 \
    GATEWAY_INTERNAL_BIND_HOST=127.0.0.1 NATS_URL=memory NOETL_BASE_URL="http://127.0.0.1:$stub" \
    RUST_LOG="${RUST_LOG:-warn}" "$@" "$target/debug/noetl-gateway" & STACK_PIDS+=($!)
  GATEWAY_URL="http://127.0.0.1:$pub"
  INTERNAL_URL="http://127.0.0.1:$int"
  for _ in $(seq 400); do
    if curl -fs "$GATEWAY_URL/health" >/dev/null 2>&1 && curl -fs "http://127.0.0.1:$stub/api/health" >/dev/null 2>&1; then
      return 0
    fi
    sleep 0.05
  done
  echo "the gateway or the NoETL stand-in did not start" >&2
  return 1
}
