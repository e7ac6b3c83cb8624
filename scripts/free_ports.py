"""Prints N (default 1) distinct free loopback TCP ports, all held while they are chosen.

They come from below the kernel's ephemeral range when it leaves room, so that no outgoing
connection on the machine can take one as its source port before the process it is meant
for binds it (the Rust test harness chooses its ports the same way).
Usage: python3 scripts/free_ports.py [N]
"""

import random
import socket
import sys

LOWEST = 10000


def ephemeral_low():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 0


def main():
    wanted = int(sys.argv[1]) if len(sys.argv) > 1 else 1
    low = ephemeral_low()
    candidates = random.sample(range(LOWEST, low), low - LOWEST) if low > LOWEST + 1000 else []
    held = []
    for port in candidates:
        if len(held) == wanted:
            break
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", port))
            held.append(s)
        except OSError:
            s.close()
    while len(held) < wanted:
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        held.append(s)
    print(" ".join(str(s.getsockname()[1]) for s in held))


if __name__ == "__main__":
    main()
