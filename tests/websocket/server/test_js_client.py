"""The official JavaScript socket.io-client 4.x, as front-end developers use it."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest

from events.broadcaster import get_broadcaster
from tests.support.node import JS_DIR, NodeFactory, ensure_node_modules
from tests.support.servers import LiveServer
from tests.support.tokens import token

pytestmark = pytest.mark.protocol  # run again with WS_FAST_PATH=false (Makefile)

# The quick-start snippet of the module description, verbatim but for the URL and token.
SPEC_SNIPPET = """\
import io from "socket.io-client";

const socket = io("http://localhost:8000/ws", {
  auth: {
    token: "your-jwt-token",
  },
});

socket.on("connection_established", (event) => {
  console.log("Connected:", event.data.connection_id);
});
"""


async def test_spec_snippet_verbatim(server: LiveServer, tmp_path: Path) -> None:
    ensure_node_modules()
    script = JS_DIR / f".snippet-{uuid.uuid4().hex}.mjs"
    script.write_text(
        SPEC_SNIPPET.replace("http://localhost:8000", server.url).replace(
            "your-jwt-token", token("spec-user")
        )
    )
    try:
        proc = await asyncio.create_subprocess_exec(
            "node", str(script), cwd=JS_DIR, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
        )
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), 10)
        proc.kill()
        await proc.wait()
    finally:
        script.unlink()
    assert line.decode().startswith("Connected: ")
    connection_id = line.decode().split(": ", 1)[1].strip()
    assert len(connection_id) >= 8


@pytest.mark.parametrize(
    "opts",
    [
        {},  # default transports, polling then upgrade, Engine.IO at /socket.io/
        {"transports": ["websocket"]},
        {"path": "/ws/socket.io"},  # everything under the /ws mount
        {"path": "/ws/socket.io", "transports": ["websocket"]},
        {"transports": ["polling"]},
    ],
    ids=["default", "websocket-only", "ws-path", "ws-path-websocket-only", "polling-only"],
)
async def test_url_forms_and_transports(
    server: LiveServer, node: NodeFactory, opts: dict[str, object]
) -> None:
    js = await node()
    reply = await js.connect(server.url + "/ws", auth={"token": token("js-user")}, **opts)
    assert reply["ok"], reply
    [established] = await js.wait_for("connection.established")
    assert established["data"]["connection_id"] == reply["socket_id"]
    assert established["data"]["user_id"] == "js-user"
    await js.wait_for("connection_established")


async def test_default_transport_upgrades_to_websocket(server: LiveServer, node: NodeFactory) -> None:
    js = await node()
    reply = await js.connect(server.url + "/ws", auth={"token": token()})
    upgrade = await js.wait_notice("upgrade")
    assert upgrade["transport"] == "websocket"
    eio_sid = server.sio.manager.eio_sid_from_sid(reply["socket_id"], "/ws")
    assert server.sio.eio.sockets[eio_sid].upgraded
    assert (await js.call("debug:rooms", {}))["status"] == "success"


async def test_query_token_fallback(server: LiveServer, node: NodeFactory) -> None:
    js = await node()
    reply = await js.connect(f"{server.url}/ws?token={token('js-query')}")
    assert reply["ok"], reply
    [established] = await js.wait_for("connection.established")
    assert established["data"]["user_id"] == "js-query"


@pytest.mark.parametrize(
    ("auth", "code"),
    [
        ({}, "AUTH_REQUIRED"),
        ({"token": "garbage"}, "AUTH_INVALID"),
        ({"token": token(ttl_seconds=-5)}, "AUTH_EXPIRED"),
        ({"token": token(token_type="refresh")}, "AUTH_INVALID"),
    ],
)
async def test_refusals_reach_connect_error_data(
    server: LiveServer, node: NodeFactory, auth: dict[str, str], code: str
) -> None:
    js = await node()
    reply = await js.connect(server.url + "/ws", auth=auth)
    assert not reply["ok"]
    assert reply["error"]["data"]["code"] == code
    assert reply["error"]["data"]["message"] == reply["error"]["message"]


async def test_commands_and_broadcast(server: LiveServer, node: NodeFactory) -> None:
    js = await node()
    await js.connect(server.url + "/ws", path="/ws/socket.io", auth={"token": token("js-cmd")})
    project_id = uuid.uuid4()
    ack = await js.call("subscribe", {"room": f"project:{project_id}"})
    assert (ack["status"], ack["room"]) == ("success", f"project:{project_id}")
    forbidden = await js.call("subscribe", {"room": "user:someone-else"})
    assert forbidden["status"] == "error" and forbidden["code"] == "FORBIDDEN"
    rooms = await js.call("debug:rooms", {})
    assert rooms["rooms"] == sorted(["global", "user:js-cmd", f"project:{project_id}"])

    assert await get_broadcaster().broadcast_project_deleted(project_id=project_id, deleted_by="admin")
    [event] = await js.wait_for("project.deleted")
    assert event["data"]["project_id"] == str(project_id)
    assert event["room"] == f"project:{project_id}"


async def test_a_string_cut_inside_an_emoji_travels_both_ways(server: LiveServer, node: NodeFactory) -> None:
    """JavaScript strings may hold a lone surrogate ("Tidewater 😀".slice(0, 11)); JSON carries it escaped.

    Going out, the event reaches the browser with the very string published;
    coming in, a command holding one gets a structured error, not a dropped
    connection.
    """
    cut = "Tidewater \ud83d"
    js = await node()
    await js.connect(server.url + "/ws", path="/ws/socket.io", auth={"token": token("js-cut")})
    project_id = uuid.uuid4()
    assert (await js.call("subscribe", {"room": f"project:{project_id}"}))["status"] == "success"
    assert await get_broadcaster().broadcast_project_deleted(
        project_id=project_id, project_name=cut, deleted_by="admin"
    )
    [event] = await js.wait_for("project.deleted")
    assert event["data"]["project_name"] == cut
    refused = await js.call("subscribe", {"room": f"project:{cut}"})
    assert (refused["status"], refused["code"]) == ("error", "INVALID_PAYLOAD"), refused
    assert (await js.call("debug:rooms", {}))["status"] == "success"
