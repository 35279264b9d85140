"""Examples of the docs, run as written: shell blocks, and child processes read line by line."""

from __future__ import annotations

import asyncio
import os
import re
import sys
from pathlib import Path

from tests.support.redis import require
from tests.support.servers import ROOT


def shell_block(marker: str) -> str:
    """The ```bash block right after `<!-- marker -->` in the integration guide."""
    guide = (ROOT / "WEBSOCKET_INTEGRATION_GUIDE.md").read_text()
    match = re.search(rf"<!-- {re.escape(marker)} -->\n```bash\n(.*?)```", guide, re.S)
    assert match, f"the guide has no bash block marked {marker!r}"
    return match.group(1)


async def run_shell(command: str, tools: tuple[str, ...], **env: str) -> tuple[int, str]:
    """Run with bash, a bare environment plus `env`; (exit code, stdout + stderr).

    Asynchronous on purpose: the server under test runs in this event loop.
    """
    paths = [
        os.path.dirname(require(tool, "the guide's shell examples are run as written")) for tool in tools
    ]
    path = ":".join([*paths, os.path.dirname(sys.executable), "/usr/bin", "/bin"])
    process = await asyncio.create_subprocess_exec(
        "bash", "-c", command, env={"PATH": path, **env},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    output, _ = await asyncio.wait_for(process.communicate(), 30)
    return process.returncode or 0, output.decode()


class Process:
    """A child process whose output is read line by line."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.lines: list[str] = []

    @classmethod
    async def start(cls, *command: str, cwd: Path, env: dict[str, str]) -> Process:
        proc = await asyncio.create_subprocess_exec(
            *command, cwd=cwd, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
        )
        return cls(proc)

    async def until(self, text: str, timeout: float = 15) -> list[str]:
        """Lines up to the first one containing `text`; fails with what was printed otherwise."""
        assert self.proc.stdout is not None
        read: list[str] = []
        try:
            async with asyncio.timeout(timeout):
                while raw := await self.proc.stdout.readline():
                    read.append(raw.decode().rstrip("\n"))
                    if text in read[-1]:
                        self.lines += read
                        return read
        except TimeoutError:
            pass
        raise AssertionError(f"no line with {text!r}; printed: {self.lines + read}")

    async def exit_code(self, timeout: float = 10) -> int:
        return await asyncio.wait_for(self.proc.wait(), timeout)

    async def kill(self) -> None:
        if self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()
