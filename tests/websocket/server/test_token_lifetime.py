"""A connection lives as long as its token: told and closed at `exp`, or kept alive by auth.refresh."""

from __future__ import annotations

import asyncio
import json
import os
import re
import uuid

import pytest

from events.broadcaster import get_broadcaster
from tests.conftest import ClientFactory
from tests.support.net import eventually
from tests.support.node import JS_DIR, NodeFactory, ensure_node_modules
from tests.support.servers import ROOT, LiveServer
from tests.support.tokens import token

pytestmark = pytest.mark.protocol  # run again with WS_FAST_PATH=false (Makefile)

PID = uuid.uuid4()


@pytest.mark.parametrize("transport", ["websocket", "polling"])
async def test_connection_is_told_and_closed_when_its_token_expires(
    connect: ClientFactory, server: LiveServer, transport: str
) -> None:
    client = await connect(token("u-exp", ttl_seconds=2), transports=[transport])
    bystander = await connect(token("u-exp-other"))
    error = await client.wait_for("connection.error", timeout=5)
    assert error["data"]["code"] == "AUTH_EXPIRED"
    assert error["room"] is None
    await eventually(lambda: not client.sio.connected)
    assert client.disconnect_reasons  # the server ended it; the client did not
    await eventually(lambda: server.registry.count_of_user("u-exp") == 0)
    assert "user:u-exp" not in server.sio.manager.rooms.get("/ws", {})
    assert bystander.sio.connected
    assert (await bystander.call("debug:rooms", {}))["status"] == "success"


async def test_refresh_moves_the_expiry(connect: ClientFactory, server: LiveServer) -> None:
    client = await connect(token("u-refresh", ttl_seconds=2, scopes=["projects:read"]))
    await client.subscribe(f"project:{PID}")
    ack = await client.call("auth.refresh", {"token": token("u-refresh", ttl_seconds=600)})
    assert ack["status"] == "success", ack
    assert ack["expires_at"].endswith("Z")
    await asyncio.sleep(3)  # the time under test: past the first token's exp (whole seconds)
    # The old timer would have fired by now; its connection.error would be queued before this event.
    assert await get_broadcaster().broadcast_project_deleted(project_id=PID, deleted_by="x")
    await client.wait_for("project.deleted")
    assert client.received("connection.error") == []
    assert client.sio.connected


@pytest.mark.parametrize(
    ("new_token", "code"),
    [
        (token("someone-else"), "AUTH_INVALID"),
        (token("u-bad-refresh", ttl_seconds=-5), "AUTH_EXPIRED"),
        (token("u-bad-refresh", token_type="refresh"), "AUTH_INVALID"),
        (token("u-bad-refresh", secret="y" * 64), "AUTH_INVALID"),
        ("not.a.jwt", "AUTH_INVALID"),
    ],
)
async def test_refresh_refusals_change_nothing(connect: ClientFactory, new_token: str, code: str) -> None:
    original = token("u-bad-refresh", ttl_seconds=600)
    client = await connect(original)
    ack = await client.call("auth.refresh", {"token": new_token})
    assert ack["status"] == "error" and ack["code"] == code, ack
    assert (await client.call("debug:rooms", {}))["rooms"] == ["global", "user:u-bad-refresh"]


async def test_refresh_with_narrower_scopes_leaves_rooms(connect: ClientFactory) -> None:
    client = await connect(token("u-narrow", scopes=[f"project:{PID}", "agents:read"]))
    agent = f"agent:{uuid.uuid4()}"
    await client.subscribe(f"project:{PID}")
    await client.subscribe(agent)
    ack = await client.call("auth.refresh", {"token": token("u-narrow", scopes=["agents:read"])})
    assert ack["status"] == "success"
    revoked = await client.wait_for("subscription.revoked")
    assert revoked["data"]["room"] == f"project:{PID}"
    assert sorted((await client.call("debug:rooms", {}))["rooms"]) == sorted(
        ["global", "user:u-narrow", agent]
    )


async def test_expiry_timers_are_released_on_disconnect(connect: ClientFactory, server: LiveServer) -> None:
    timers = server.app.state.tokens.timers
    before = len(timers)
    clients = [await connect(token(f"u-timer-{i}")) for i in range(5)]
    assert len(timers) == before + 5
    for client in clients:
        await client.close()
    await eventually(lambda: len(timers) == before)


async def test_js_client_is_told_at_expiry(server: LiveServer, node: NodeFactory) -> None:
    js = await node()
    assert (await js.connect(server.url + "/ws", auth={"token": token("js-exp", ttl_seconds=2)}))["ok"]
    [error] = await js.wait_for("connection.error")
    assert error["data"]["code"] == "AUTH_EXPIRED"
    disconnect = await js.wait_notice("disconnect")
    assert disconnect["reason"] == "io server disconnect"  # socket.io-client will not reconnect by itself


def guide_block(marker: str) -> str:
    guide = (ROOT / "WEBSOCKET_INTEGRATION_GUIDE.md").read_text()
    blocks = re.findall(r"```js\n(.*?)```", guide, re.S)
    [block] = [b for b in blocks if b.startswith(marker)]
    return block


async def test_guide_refresh_loop_keeps_a_js_client_connected(server: LiveServer) -> None:
    ensure_node_modules()
    tokens = [token("js-fresh", ttl_seconds=3), token("js-fresh", ttl_seconds=600)]
    harness = """
import { io } from "socket.io-client";
const tokens = JSON.parse(process.env.TOKENS);
const options = { auth: { token: tokens[0] }, transports: ["websocket"], reconnection: false };
const socket = io(process.env.URL + "/ws", options);
let next = 1;
keepTokenFresh(socket, async () => tokens[next++], { marginMs: 1500 });
socket.on("connection.error", (event) => console.log("ERROR " + event.data.code));
socket.on("disconnect", (reason) => console.log("DISCONNECT " + reason));
setTimeout(() => {
  console.log(socket.connected && next === 2 ? "STILL CONNECTED" : "GONE");
  process.exit(0);
}, 5000);
"""
    script = JS_DIR / f".refresh-{uuid.uuid4().hex}.mjs"
    script.write_text(guide_block("// keepTokenFresh") + harness)
    try:
        proc = await asyncio.create_subprocess_exec(
            "node", str(script), cwd=JS_DIR, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            env={**os.environ, "TOKENS": json.dumps(tokens), "URL": server.url},
        )  # fmt: skip
        out, err = await asyncio.wait_for(proc.communicate(), 20)
    finally:
        script.unlink()
    assert out.decode().strip().splitlines() == ["STILL CONNECTED"], (out, err)
