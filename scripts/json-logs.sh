#!/usr/bin/env bash
# Runs the whole test suite with LOG_FORMAT=json, collecting every gateway's log lines (the
# in-process ones and the binaries'), then checks them: each line is one JSON object, each
# line logged while a request was handled names that request's id, and no session token
# the NoETL stand-in issued (`sess-` and 32 hex digits) appears anywhere.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
LOG_FORMAT=json TEST_LOG_DIR="$dir" RUST_LOG="${RUST_LOG:-debug,hyper=info,h2=info,tower=info,async_nats=info}" \
  bash scripts/test.sh -q "$@"
python3 - "$dir" <<'PY'
import json, pathlib, re, sys

token = re.compile(r"sess-[0-9a-f]{32}")
lines = in_request = files = 0
problems = []
for path in sorted(pathlib.Path(sys.argv[1]).glob("*.jsonl")):
    files += 1
    for n, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
        if not line.strip():
            continue
        lines += 1
        where = f"{path.name}:{n}"
        if token.search(line):
            problems.append(f"{where}: a session token: {line[:200]}")
        try:
            record = json.loads(line)
        except ValueError:
            problems.append(f"{where}: not JSON: {line[:200]}")
            continue
        if not isinstance(record, dict):
            problems.append(f"{where}: not a JSON object")
            continue
        spans = record.get("spans") or []
        requests = [s for s in spans if s.get("name") == "request"]
        if requests:
            in_request += 1
            if not all(s.get("request_id") for s in requests):
                problems.append(f"{where}: inside a request but without its id: {line[:200]}")
print(f"checked {lines} log lines from {files} files; {in_request} were logged inside a request")
if lines < 1000 or in_request < 100:
    problems.append("too few log lines were collected for the check to mean anything")
for p in problems[:30]:
    print(p)
sys.exit(1 if problems else 0)
PY
