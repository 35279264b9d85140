"""Child processes of the harness: CPU pinning, file-descriptor limits, free ports.

The server under test runs on one core and everything else (load generator,
this runner, the profiler) on the other, so the figures measure one server
core, as the issue's targets are stated.
"""

from __future__ import annotations

import os
import resource
import shutil
import socket
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
API_DIR = ROOT / "apps" / "api"
WORK_DIR = BENCH_DIR / ".work"  # logs, tokens, profiles (git-ignored)


def cores() -> tuple[set[int], set[int]]:
    """(server cores, load cores): the first core for servers, the rest for load."""
    available = sorted(os.sched_getaffinity(0))
    if len(available) < 2:
        return set(available), set(available)
    return {available[0]}, set(available[1:])


SERVER_CORES, LOAD_CORES = cores()


def pinned(cpus: set[int], argv: list[str]) -> list[str]:
    """`argv` run on `cpus` only (with every thread it starts), through taskset.

    With setpriv available the child also gets SIGTERM if this runner dies, so
    an interrupted benchmark leaves no server behind.
    """
    taskset = shutil.which("taskset")
    if taskset is None:
        sys.exit("error: taskset (util-linux) is needed to pin servers and load to separate cores")
    setpriv = shutil.which("setpriv")
    guard = [setpriv, "--pdeathsig", "TERM"] if setpriv else []
    return [*guard, taskset, "-c", ",".join(map(str, sorted(cpus))), *argv]


def raise_fd_limit(needed: int) -> int:
    """Raise this process's (and so its children's) open-file limit; return it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(soft, needed)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    limit = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if limit < needed:
        sys.exit(f"error: {needed} open files needed but the hard limit is {limit}; raise `ulimit -Hn`")
    return limit


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rss_kb(pid: int) -> int:
    """Resident set size of a process, from /proc (kB)."""
    with Path(f"/proc/{pid}/status").open() as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


def cores_busy_seconds(cpus: set[int]) -> float:
    """Time `cpus` spent running processes, or stolen by the hypervisor.

    Interrupt time is left out: loopback delivery of the server's own writes
    is accounted there, not to the server process.
    """
    busy = 0
    for line in Path("/proc/stat").read_text().splitlines():
        name, *fields = line.split()
        if name.startswith("cpu") and name[3:].isdigit() and int(name[3:]) in cpus:
            user, nice, system, _idle, _iowait, _irq, _softirq, steal = map(int, fields[:8])
            busy += user + nice + system + steal
    return busy / os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def say(text: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)
