"""The guide's receiving examples, run as a reader would: the Python worker, the Node script."""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import uuid
from pathlib import Path

from events.broadcaster import get_broadcaster
from tests.support.guide import Process, run_shell, shell_block
from tests.support.net import eventually
from tests.support.node import JS_DIR, ensure_node_modules
from tests.support.servers import ROOT, LiveServer
from tests.support.tokens import token
from websocket.protocol.payloads import WorkflowCompleted, WorkflowProgress

EXAMPLE = ROOT / "clients" / "python" / "watch_workflow.py"
WATCHER = ("workflows:read",)


async def progress(workflow_id: uuid.UUID, n: int) -> None:
    assert await get_broadcaster().publish(
        WorkflowProgress(workflow_id=workflow_id, progress=20 * n, current_step=f"s{n}", step_number=n)
    )


def saved_offset(positions: Path, room: str) -> int | None:
    try:
        return int(json.loads(positions.read_text())[room]["offset"])
    except (FileNotFoundError, KeyError, ValueError):
        return None


async def test_the_python_example_resumes_after_being_killed(server: LiveServer, tmp_path: Path) -> None:
    workflow_id = uuid.uuid4()
    room = f"workflow:{workflow_id}"
    env = {**os.environ, "EVENT_SERVER": server.url, "TOKEN": token("watcher", scopes=WATCHER)}
    command = (sys.executable, str(EXAMPLE), str(workflow_id))

    first = await Process.start(*command, cwd=tmp_path, env=env)
    try:
        await first.until(f"watching {room}")
        for n in (1, 2):
            await progress(workflow_id, n)
        assert await first.until("s2") == [" 20% s1", " 40% s2"]
        # Saved once the handler has returned; then the worker dies without a word.
        await eventually(lambda: saved_offset(tmp_path / f"workflow-{workflow_id}.json", room) == 2)
    finally:
        await first.kill()

    for n in (3, 4):  # missed while it is down
        await progress(workflow_id, n)
    second = await Process.start(*command, cwd=tmp_path, env=env)
    try:
        await second.until(f"watching {room}")
        assert await get_broadcaster().publish(
            WorkflowCompleted(workflow_id=workflow_id, result={"steps": 4})
        )
        await second.until("workflow.completed")
        assert await second.exit_code() == 0, second.lines
    finally:
        await second.kill()
    # Nothing handled twice; of the missed progress only the newest is replayed (the type's policy).
    assert [line for line in second.lines if "% s" in line] == [" 80% s4"]
    assert second.lines[-1] == "workflow.completed {'steps': 4}"


def js_block(marker: str) -> str:
    """The ```js block right after `<!-- marker -->` in the integration guide."""
    guide = (ROOT / "WEBSOCKET_INTEGRATION_GUIDE.md").read_text()
    match = re.search(rf"<!-- {re.escape(marker)} -->\n```js\n(.*?)```", guide, re.S)
    assert match, f"the guide has no js block marked {marker!r}"
    return match.group(1)


async def test_the_node_instructions_work_as_written(server: LiveServer, tmp_path: Path) -> None:
    """Download the served helper, run the guide's script with Node, see an event printed."""
    ensure_node_modules()
    node = shutil.which("node")
    assert node is not None
    (tmp_path / "node_modules").symlink_to(JS_DIR / "node_modules")  # `npm install socket.io-client`
    code, output = await run_shell(
        f"cd {tmp_path} && {shell_block('node-helper-download')}", ("curl",), EVENT_SERVER=server.url
    )
    assert code == 0, output
    served = ROOT / "apps" / "api" / "static" / "realtime-client.js"
    assert (tmp_path / "realtime-client.mjs").read_bytes() == served.read_bytes()
    (tmp_path / "watch.mjs").write_text(js_block("node-helper-script"))

    workflow_id = uuid.uuid4()
    room = f"workflow:{workflow_id}"
    env = {"PATH": os.path.dirname(node), "EVENT_SERVER": server.url, "ROOM": room}
    script = await Process.start(
        node, "watch.mjs", cwd=tmp_path, env={**env, "TOKEN": token("node", scopes=WATCHER)}
    )
    try:
        await script.until(f"subscribe {room} success")
        await progress(workflow_id, 1)
        [line] = (await script.until("workflow.progress"))[-1:]
        assert json.loads(line.removeprefix("workflow.progress "))["current_step"] == "s1"
    finally:
        await script.kill()

    refused = await Process.start(node, "watch.mjs", cwd=tmp_path, env={**env, "TOKEN": "not-a-token"})
    try:
        await refused.until("connect_error AUTH_INVALID")
        assert await refused.exit_code() == 1
    finally:
        await refused.kill()

    # Why the guide says to copy it: Node refuses to import from http:// (the old instructions).
    url = f"{server.url}/ws/static/realtime-client.js"
    direct = await Process.start(
        node, "--input-type=module", "-e", f'import {{ RoomClient }} from "{url}";', cwd=tmp_path, env=env
    )
    await direct.until("ERR_UNSUPPORTED_ESM_URL_SCHEME")
    assert await direct.exit_code() != 0
