#!/usr/bin/env bash
# Start-up time: from exec to the first 200 on /health, with no NATS and no NoETL reachable
# (degraded start). Prints min / median / max over RUNS runs of the release binary.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-20}
cargo build --release --locked --quiet
BIN=${CARGO_TARGET_DIR:-target}/release/noetl-gateway
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
times=()
for _ in $(seq "$RUNS"); do
  p=$(port); i=$(port); dead=$(port)
  start=$(date +%s%N)
  ROUTER_PORT=$p GATEWAY_INTERNAL_PORT=$i GATEWAY_BIND_HOST=127.0.0.1 \
    NATS_URL=nats://127.0.0.1:$dead NOETL_BASE_URL=http://127.0.0.1:$dead RUST_LOG=error \
    "$BIN" >/dev/null 2>&1 &
  pid=$!
  until curl -fs "http://127.0.0.1:$p/health" >/dev/null 2>&1; do sleep 0.002; done
  end=$(date +%s%N)
  kill -TERM $pid; wait $pid
  times+=($(( (end - start) / 1000 )))
done
summary=$(printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {printf "%.1f / %.1f / %.1f ms", a[1]/1000, a[int((NR+1)/2)]/1000, a[NR]/1000}')
echo "startup to first /health 200, min / median / max over $RUNS runs: $summary"
if [ -n "${BENCH_RESULTS:-}" ]; then
  printf '%s\t%s\t%s\t%s\n' "startup" "exec to first /health 200, min / median / max" "$summary" "" >>"$BENCH_RESULTS"
fi
