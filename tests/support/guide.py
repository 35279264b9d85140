"""Shell examples of the integration guide, run as written."""

from __future__ import annotations

import asyncio
import os
import re
import sys

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
