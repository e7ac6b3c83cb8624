"""Sets the scheduler slice that Linux's EEVDF scheduler (6.12 and later) gives a task
(`sched_setattr` with `sched_runtime` on a SCHED_OTHER task; 0 restores the default).

Usage:
  python3 bench/sched_slice.py set MICROSECONDS PID...   every thread of each PID and of its children
  python3 bench/sched_slice.py exec MICROSECONDS CMD...  CMD with that slice (its threads inherit it)
"""

import ctypes
import os
import platform
import struct
import sys

# sched_setattr's number on x86_64 and aarch64.
SYSCALLS = {"x86_64": 314, "aarch64": 274}
ATTR_SIZE = 56  # struct sched_attr, version 1


def set_slice(tid: int, micros: int) -> None:
    number = SYSCALLS.get(platform.machine())
    if number is None:
        sys.exit(f"sched_slice: no sched_setattr number known for {platform.machine()}")
    libc = ctypes.CDLL(None, use_errno=True)
    # size, policy (SCHED_OTHER), flags, nice, priority, runtime (the slice), deadline,
    # period, util_min, util_max
    attr = struct.pack("IIQiIQQQII", ATTR_SIZE, 0, 0, 0, 0, micros * 1000, 0, 0, 0, 0)
    buf = ctypes.create_string_buffer(attr, ATTR_SIZE)
    if libc.syscall(number, tid, buf, 0) != 0:
        sys.exit(f"sched_slice: sched_setattr({tid}) failed: {os.strerror(ctypes.get_errno())}")


def tasks_of(pid: int) -> list[int]:
    """The threads of a process and of its children (nginx's workers, say)."""
    found = []
    for tid in os.listdir(f"/proc/{pid}/task"):
        found.append(int(tid))
        try:
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                for child in f.read().split():
                    found.extend(tasks_of(int(child)))
        except FileNotFoundError:
            pass
    return found


def main() -> None:
    if len(sys.argv) < 4 or sys.argv[1] not in ("set", "exec"):
        sys.exit(__doc__)
    micros = int(sys.argv[2])
    if sys.argv[1] == "set":
        for pid in sys.argv[3:]:
            for tid in tasks_of(int(pid)):
                set_slice(tid, micros)
    else:
        set_slice(0, micros)
        os.execvp(sys.argv[3], sys.argv[3:])


if __name__ == "__main__":
    main()
