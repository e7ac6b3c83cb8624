#!/usr/bin/env bash
# What the HTTP/1.1 read buffer costs and bounds, for two gateway builds: the time of a 1 GiB
# upload through the proxy (curl to the bench's upstream nginx, ROUNDS alternating rounds)
# and the RSS a crowd of never-ending request heads makes the gateway hold (HEADS connections,
# each sending HEAD_KIB KiB of one header and then nothing; measured 2 s later, with how many
# of the connections the gateway still keeps open).
# Usage: bash bench/read_buffer.sh BIN_A BIN_B. Needs Debian's nginx.
source "$(dirname "$0")/lib.sh"
[ $# -eq 2 ] || { echo "usage: bash bench/read_buffer.sh BIN_A BIN_B"; exit 2; }
command -v nginx >/dev/null || { echo "install nginx (apt-get install -y nginx-light)"; exit 1; }
ROUNDS=${ROUNDS:-6}
HEADS=${HEADS:-500}
HEAD_KIB=${HEAD_KIB:-380}
work=$(mktemp -d); up=$(free_port)
start_upstream "$work" "$up"
truncate -s 1G "$work/big.bin"
auth="authorization: Bearer bench-proxy-session"
# with BIN: a gateway of that build in front of the upstream, its pid in GW_PID, port in pub.
with() {
  pub=$(free_port); local int; int=$(free_port)
  GATEWAY=$1 start_proxy_gateway "$up" "$pub" "$int" GATEWAY_PROXY_MAX_BODY_BYTES=2147483648
  curl -fs -H "$auth" "http://127.0.0.1:$pub/noetl/health" >/dev/null
}
heads() { # PORT PID: "+MiB open" after HEADS never-ending heads
  python3 - "$1" "$2" "$HEADS" "$HEAD_KIB" <<'PY'
import socket, sys, time
port, pid, n, kib = map(int, sys.argv[1:])
rss = lambda: int(next(l for l in open(f"/proc/{pid}/status") if l.startswith("VmRSS")).split()[1])
before = rss()
head = b"GET /health HTTP/1.1\r\nhost: gw\r\nx-filler: " + b"f" * (kib * 1024)
conns = []
for _ in range(n):
    s = socket.create_connection(("127.0.0.1", port))
    s.setblocking(False)
    try:
        s.send(head)
    except (BlockingIOError, ConnectionError):
        pass
    conns.append(s)
time.sleep(2)
grown = (rss() - before) / 1024
open_ = 0
for s in conns:
    try:
        s.recv(65536)  # an answer (a 431) or the end: the gateway let go of it
    except BlockingIOError:
        open_ += 1
    except OSError:
        pass
print(f"{grown:.0f} {open_}")
PY
}
declare -A T
for bin in "$1" "$2"; do
  with "$bin"
  read -r grown open < <(heads "$pub" "$GW_PID")
  echo "$bin: $HEADS never-ending heads of $HEAD_KIB KiB: RSS +$grown MiB, $open of them still open"
  kill "$GW_PID"; wait "$GW_PID" 2>/dev/null || true
done
for _ in $(seq "$ROUNDS"); do
  for bin in "$1" "$2"; do
    with "$bin"
    t=$( { /usr/bin/time -f %e curl -s -o /dev/null -H "$auth" -T "$work/big.bin" "http://127.0.0.1:$pub/noetl/upload"; } 2>&1 )
    T[$bin]+="$t "
    kill "$GW_PID"; wait "$GW_PID" 2>/dev/null || true
  done
done
for bin in "$1" "$2"; do
  # shellcheck disable=SC2086
  echo "$bin: 1 GiB upload, s: ${T[$bin]}-> median $(median ${T[$bin]})"
done
