"""The machine and software a run measured, for RESULTS.md."""

from __future__ import annotations

import json
import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path

from bench.procs import BENCH_DIR, LOAD_CORES, SERVER_CORES

PYTHON_PACKAGES = (
    "python-socketio",
    "python-engineio",
    "uvicorn",
    "uvloop",
    "httptools",
    "websockets",
    "orjson",
    "fastapi",
    "starlette",
    "pydantic",
    "redis",
)
NODE_PACKAGES = ("socket.io", "engine.io", "ws", "@socket.io/redis-adapter", "redis")


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _mem_total() -> str:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    return "unknown"


def _run(*argv: str) -> str:
    try:
        return subprocess.run(argv, capture_output=True, text=True, check=False).stdout.strip()
    except OSError:
        return "not installed"


def _node_package(name: str) -> str:
    path = BENCH_DIR / "node_modules" / name / "package.json"
    return json.loads(path.read_text())["version"] if path.exists() else "missing"


def _py_package(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "missing"


def describe() -> dict[str, str]:
    load1, load5, _ = os.getloadavg()
    return {
        "CPU": f"{_cpu_model()}, {os.cpu_count()} cores; servers pinned to core(s) "
        f"{sorted(SERVER_CORES)}, load generator, runner and profiler to {sorted(LOAD_CORES)}",
        "Memory": _mem_total(),
        "Kernel": f"{platform.system()} {platform.release()}",
        "Load average at start": f"{load1:.2f} (1 min), {load5:.2f} (5 min)",
        "Python": f"{platform.python_version()}; "
        + ", ".join(f"{n} {_py_package(n)}" for n in PYTHON_PACKAGES),
        "Node": f"{_run('node', '--version')}; "
        + ", ".join(f"{n} {_node_package(n)}" for n in NODE_PACKAGES),
        "Redis": _run("redis-server", "--version").split(" sha=")[0] or "not installed",
    }
