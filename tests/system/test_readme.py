"""README's "Connect in a minute", run as written: `make run`, the token line, watch.mjs under Node, one curl.

`make run` runs verbatim in a copy of the project whose `.venv` is the session's
venv of requirements.txt alone (what `make run` would have built), on a free
port (`PORT`): the blocks' `localhost:8000` is the only thing changed, to
that port. `npm install socket.io-client` is the pinned one of tests/js.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.support.guide import Process
from tests.support.logcheck import trouble_in
from tests.support.net import eventually, free_port
from tests.support.node import JS_DIR, ensure_node_modules
from tests.support.redis import require
from tests.support.servers import ROOT

README = (ROOT / "README.md").read_text()
ROOM = "project:550e8400-e29b-41d4-a716-446655440000"


def block(marker: str, language: str) -> str:
    match = re.search(rf"<!-- {re.escape(marker)} -->\n```{language}\n(.*?)```", README, re.S)
    assert match, f"README has no {language} block marked {marker!r}"
    return match.group(1)


class MakeRun:
    def __init__(self, project: Path, port: int) -> None:
        self.project, self.port = project, port
        self.log_path = project / "make-run.log"
        self.proc: asyncio.subprocess.Process | None = None

    def on_port(self, text: str) -> str:
        assert "localhost:8000" in text, text
        return text.replace("localhost:8000", f"localhost:{self.port}")

    def env(self, **extra: str) -> dict[str, str]:
        """A machine with no configuration for this service: PATH, HOME, and what the test adds."""
        keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")}
        return {**keep, **extra}

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@pytest.fixture
async def make_run(runtime_python: Path, tmp_path: Path) -> AsyncIterator[MakeRun]:
    """`make run` as README says, in a copy of the project; stopped with SIGTERM (Ctrl-C's twin)."""
    require("make", "README's first command is make run")
    project = tmp_path / "project"
    shutil.copytree(ROOT / "apps", project / "apps", ignore=shutil.ignore_patterns("__pycache__", ".env"))
    for name in ("Makefile", "requirements.txt", "requirements-dev.txt"):
        shutil.copy(ROOT / name, project / name)
    venv = runtime_python.parent.parent
    (project / ".venv").symlink_to(venv)
    stamp = venv / ".runtime"  # what make run's own install step leaves: the venv is up to date
    stamp.touch()
    later = time.time() + 5
    os.utime(stamp, (later, later))
    run = MakeRun(project, free_port())
    assert block("readme-start", "bash") == "make run\n"
    with run.log_path.open("wb") as log:
        run.proc = await asyncio.create_subprocess_exec(
            "bash", "-c", block("readme-start", "bash"), cwd=project, env=run.env(PORT=str(run.port)),
            stdout=log, stderr=asyncio.subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip

    async def serving() -> bool:
        assert run.proc is not None and run.proc.returncode is None, run.log()
        try:
            async with httpx.AsyncClient() as http:
                return (await http.get(f"http://127.0.0.1:{run.port}/health")).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        await eventually(serving, timeout=60)
        yield run
    finally:
        if run.proc.returncode is None:
            os.killpg(run.proc.pid, signal.SIGTERM)  # make and the server it started
            await asyncio.wait_for(run.proc.wait(), 20)
    assert trouble_in(run.log()) == [], run.log()


async def test_connect_in_a_minute_works_as_written(make_run: MakeRun, tmp_path: Path) -> None:
    node = require("node", "README's client is a Node script")
    curl = require("curl", "README's token line and publish use curl")
    ensure_node_modules()
    # The start-up log names the dashboard and the token line README shows.
    token_line = make_run.on_port(block("readme-token", "bash"))
    await eventually(lambda: "development_token_available" in make_run.log())
    assert token_line.strip() in make_run.log()
    assert f"http://localhost:{make_run.port}/ws/dashboard" in make_run.log()

    folder = tmp_path / "watch"
    folder.mkdir()
    (folder / "node_modules").symlink_to(JS_DIR / "node_modules")  # `npm install socket.io-client`
    (folder / "watch.mjs").write_text(make_run.on_port(block("readme-watch", "js")))
    tools = f"{os.path.dirname(node)}:{os.path.dirname(curl)}:/usr/bin:/bin"
    watcher = await Process.start(
        "bash", "-c", token_line + block("readme-node", "bash"), cwd=folder, env={"PATH": tools}
    )
    try:
        await watcher.until(f"subscribe {ROOM} success")
        publish = await Process.start(
            "bash", "-c", token_line + make_run.on_port(block("readme-publish", "bash")),
            cwd=folder, env={"PATH": tools},
        )  # fmt: skip
        [answer] = await publish.until('"events"')
        assert json.loads(answer)["events"][0]["delivered"] is True
        [printed] = (await watcher.until("project.updated"))[-1:]
        kind, room, data = printed.split(" ", 2)
        assert (kind, room) == ("project.updated", ROOM)
        assert json.loads(data)["status"] == "deploying"
    finally:
        await watcher.kill()

    # A token the server refuses: connect_error's code and message, and a non-zero exit.
    refused = await Process.start(
        "node", "watch.mjs", cwd=folder, env={"PATH": tools, "TOKEN": "not-a-token"}
    )
    try:
        await refused.until("connect_error AUTH_INVALID")
        assert await refused.exit_code() == 1
    finally:
        await refused.kill()
