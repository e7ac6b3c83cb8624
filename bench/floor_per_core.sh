#!/usr/bin/env bash
# The stack's floor (`examples/proxy_floor.rs`) on tokio's multi-threaded runtime (how the
# gateway runs) against one single-threaded runtime per core with its own listener
# (`PER_CORE=2`, how nginx's workers run), with nginx's reverse proxy as the reference:
# requests/s in alternating closed-loop rounds (32 connections), then user-space instructions
# per request of both floors under callgrind. Needs Debian's nginx and valgrind.
source "$(dirname "$0")/lib.sh"
command -v nginx >/dev/null || { echo "install nginx (apt-get install -y nginx-light)"; exit 1; }
command -v valgrind >/dev/null || { echo "install valgrind"; exit 1; }
SECONDS_EACH=${SECONDS_EACH:-6}
ROUNDS=${ROUNDS:-5}
build
proxy_stage
mt=$(free_port); pc=$(free_port)
floor="$TARGET/release/examples/proxy_floor"
"$floor" "$mt" "http://127.0.0.1:$up" >/dev/null 2>&1 & PIDS+=($!)
PER_CORE=2 "$floor" "$pc" "http://127.0.0.1:$up" >/dev/null 2>&1 & PIDS+=($!)
wait_http "http://127.0.0.1:$mt/noetl/health"; wait_http "http://127.0.0.1:$pc/noetl/health"
rps() { json_field "$("$LOADGEN" --url "http://127.0.0.1:$1/noetl/health" --seconds "$SECONDS_EACH" --connections 32)" rps; }
N=(); M=(); P=()
for _ in $(seq "$ROUNDS"); do N+=("$(rps "$px")"); M+=("$(rps "$mt")"); P+=("$(rps "$pc")"); done
n=$(median "${N[@]}"); m=$(median "${M[@]}"); p=$(median "${P[@]}")
echo "rps: nginx ${N[*]} -> $n; floor, multi-threaded ${M[*]} -> $m; floor, per core ${P[*]} -> $p"
result "floor per core" "rps / nginx: multi-threaded runtime" "$(python3 -c "print(f'{$m/$n:.2f}')")"
result "floor per core" "rps / nginx: a runtime per core" "$(python3 -c "print(f'{$p/$n:.2f}')")"
for mode in 0 2; do
  port=$(free_port)
  RUN_ENV=(PER_CORE=$mode)
  callgrind_count "floor per core" "PER_CORE=$mode" "http://127.0.0.1:$port" /noetl/health -- \
    "$floor" "$port" "http://127.0.0.1:$up"
done
rm -rf "$work"
