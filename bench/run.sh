#!/usr/bin/env bash
# Runs every benchmark (start-up, cached validate vs health, login, proxy vs nginx vs direct,
# proxy p99 with the load generator on its own core, SSE capacity and latency, pending-request
# listing), then prints one table and writes it into bench/README.md
# between the "latest run" markers, with the machine and the date.
# Usage: bash bench/run.sh            (needs nginx and nats-server; installs them if missing)
# BENCH_LOGS=DIR keeps each script's log in DIR (made if missing).
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || need+=(nginx-light)
command -v nats-server >/dev/null || [ -x /usr/sbin/nats-server ] || need+=(nats-server)
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get install -y -qq "${need[@]}"
fi
export PATH=$PATH:/usr/sbin
results=$(mktemp)
export BENCH_RESULTS=$results
logs=${BENCH_LOGS:-$(mktemp -d)}
mkdir -p "$logs"
for bench in startup auth_validate login proxy proxy_pinned sse pending_listing; do
  echo "== bench/$bench.sh (log: $logs/$bench.log)"
  if ! bash "bench/$bench.sh" >"$logs/$bench.log" 2>&1; then
    echo "bench/$bench.sh failed; its log:" >&2
    tail -20 "$logs/$bench.log" >&2
    exit 1
  fi
done
machine="$(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(. /etc/os-release && echo "$PRETTY_NAME"), $(uname -r)"
table=$(python3 - "$results" "$machine" <<'PY'
import datetime, sys
rows = [line.rstrip("\n").split("\t") for line in open(sys.argv[1]) if line.strip()]
out = [f"Run of {datetime.date.today().isoformat()} on {sys.argv[2]} (`bash bench/run.sh`).", "",
       "| benchmark | measure | result | target |", "|---|---|---|---|"]
for bench, metric, value, target in rows:
    out.append(f"| {bench} | {metric} | {value} | {target or '–'} |")
print("\n".join(out))
PY
)
echo
echo "$table"
python3 - "$table" <<'PY'
import pathlib, sys
readme = pathlib.Path("bench/README.md")
text = readme.read_text()
begin, end = "<!-- latest run: begin -->", "<!-- latest run: end -->"
block = f"{begin}\n{sys.argv[1]}\n{end}"
if begin in text and end in text:
    head, rest = text.split(begin, 1)
    text = head + block + rest.split(end, 1)[1]
else:
    title, _, body = text.partition("\n")
    text = f"{title}\n\n## Latest run\n\n{block}\n{body}"
readme.write_text(text)
PY
echo
echo "bench/README.md updated"
