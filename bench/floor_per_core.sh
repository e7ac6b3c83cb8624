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
work=$(mktemp -d)
up=$(free_port); px=$(free_port); mt=$(free_port); pc=$(free_port)
start_upstream "$work" "$up"
start_nginx_proxy "$work" "$up" "$px"
floor="$TARGET/release/examples/proxy_floor"
"$floor" "$mt" "http://127.0.0.1:$up" >/dev/null 2>&1 & PIDS+=($!)
PER_CORE=2 "$floor" "$pc" "http://127.0.0.1:$up" >/dev/null 2>&1 & PIDS+=($!)
wait_http "http://127.0.0.1:$mt/noetl/health"; wait_http "http://127.0.0.1:$pc/noetl/health"
rps() { json_field "$("$LOADGEN" --url "http://127.0.0.1:$1/noetl/health" --seconds "$SECONDS_EACH" --connections 32)" rps; }
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
N=(); M=(); P=()
for _ in $(seq "$ROUNDS"); do N+=("$(rps "$px")"); M+=("$(rps "$mt")"); P+=("$(rps "$pc")"); done
n=$(median "${N[@]}"); m=$(median "${M[@]}"); p=$(median "${P[@]}")
echo "rps: nginx ${N[*]} -> $n; floor, multi-threaded ${M[*]} -> $m; floor, per core ${P[*]} -> $p"
result "floor per core" "rps / nginx: multi-threaded runtime" "$(python3 -c "print(f'{$m/$n:.2f}')")"
result "floor per core" "rps / nginx: a runtime per core" "$(python3 -c "print(f'{$p/$n:.2f}')")"
for mode in 0 2; do
  port=$(free_port)
  PER_CORE=$mode valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$work/floor$mode.out" \
    "$floor" "$port" "http://127.0.0.1:$up" >/dev/null 2>&1 & vg=$!; PIDS+=($vg)
  for _ in $(seq 240); do curl -fs -o /dev/null "http://127.0.0.1:$port/noetl/health" && break; sleep 0.25; done
  callgrind_control -i on "$vg" >/dev/null
  "$LOADGEN" --url "http://127.0.0.1:$port/noetl/health" --seconds 3 --connections 8 >/dev/null
  callgrind_control -z "$vg" >/dev/null
  out=$("$LOADGEN" --url "http://127.0.0.1:$port/noetl/health" --seconds 6 --connections 8)
  callgrind_control -d "$vg" >/dev/null
  kill "$vg"; wait "$vg" 2>/dev/null || true
  requests=$(json_field "$out" requests)
  instructions=$(awk '/^totals:/ {print $2}' "$(grep -l 'Trigger: dump' "$work/floor$mode.out"*)")
  result "floor per core" "user-space instructions per request, PER_CORE=$mode" "$((instructions / requests))"
done
rm -rf "$work"
