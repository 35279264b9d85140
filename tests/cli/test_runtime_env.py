"""`python -m cli` where the server runs: a venv holding requirements.txt alone, as `make run` builds it.

The venv is conftest's `runtime_python` (tests/support/runtime.py), built once per session.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import uuid
from pathlib import Path

from tests.conftest import ClientFactory
from tests.support import servers
from tests.support.servers import API_DIR, LiveServer
from tests.support.tokens import SECRET, token
from websocket.access.tokens import TokenValidator

# Installed by requirements-dev.txt only: none may be needed by the CLI.
DEV_ONLY = ("httpx", "pytest", "hypothesis", "jsonschema")


def runtime_env(python: Path, **overrides: str) -> dict[str, str]:
    """The test servers' settings, and nothing of this (development) interpreter's environment."""
    keep = {k: v for k, v in os.environ.items() if k in ("HOME", "LANG", "TMPDIR")}
    path = f"{python.parent}:/usr/bin:/bin"
    return {**keep, **servers.test_env(), "PATH": path, "NO_COLOR": "", **overrides}


async def run(python: Path, *args: str, timeout: float = 30, **env: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        str(python), "-m", "cli", *args, cwd=API_DIR, env=runtime_env(python, **env),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), timeout)
    return proc.returncode or 0, out.decode(), err.decode()


def test_the_venv_holds_the_runtime_alone(runtime_python: Path) -> None:
    probe = "import importlib.util as u, sys; print(*(m for m in sys.argv[1:] if u.find_spec(m)))"
    result = subprocess.run([str(runtime_python), "-c", probe, *DEV_ONLY], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.strip() == "", f"development packages: {result.stdout}"


async def test_token_and_emit_list_run_on_the_runtime(runtime_python: Path) -> None:
    code, out, err = await run(runtime_python, "token", "--sub", "runtime")
    assert code == 0, err
    assert TokenValidator(SECRET).validate(out.strip()).id == "runtime"
    code, out, err = await run(runtime_python, "emit", "--list")
    assert code == 0, err
    listed = dict(line.split(" ", 1) for line in out.splitlines())
    assert "workflow.progress" in listed and json.loads(listed["workflow.progress"])["progress"] == 50


async def test_emit_and_tail_run_on_the_runtime(
    runtime_python: Path, server: LiveServer, connect: ClientFactory
) -> None:
    """emit (no REDIS_URL: through the server's POST /api/events) and tail --count, against a server."""
    project_id = uuid.uuid4()
    room = f"project:{project_id}"
    watcher = await connect(token("runtime-watcher", scopes=["projects:read"]))
    await watcher.subscribe(room)
    tail = await asyncio.create_subprocess_exec(
        str(runtime_python), "-m", "cli", "tail", "--room", room, "--count", "1", "--json",
        cwd=API_DIR, env=runtime_env(runtime_python, PORT=str(server.port)),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        assert tail.stderr is not None
        notes: list[str] = []
        while not any(note.startswith(f"subscribed to {room}") for note in notes):
            line = await asyncio.wait_for(tail.stderr.readline(), 20)
            assert line, f"tail ended early: {notes}"
            notes.append(line.decode().strip())
        code, _, err = await run(
            runtime_python, "emit", "project.updated", "--set", f"project_id={project_id}",
            PORT=str(server.port), JWT_SECRET_KEY="",
        )  # fmt: skip
        assert code == 0, err
        assert "published through POST" in err
        received = await watcher.wait_for("project.updated")
        printed, _ = await asyncio.wait_for(tail.communicate(), 20)
        assert tail.returncode == 0
        assert json.loads(printed)["id"] == received["id"]
    finally:
        if tail.returncode is None:
            tail.kill()
            await tail.wait()
