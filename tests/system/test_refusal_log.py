"""Every way a client is refused, once, against a server started with default settings.

Operators alert on `error`, so `error` means a fault of this server (issue 17):
an optional feature left unconfigured is one `warning` at start; a refusal of
a client is one line of the `audit` logger at `warning` or `info` (repeats of
the same kind are summarised, websocket/audit.py), and no other logger
(python-engineio, uvicorn, a router) writes a line of its own about it.

The server runs as production runs it (ENVIRONMENT=production, no webhook
secret, every limit at its default); each refusal below is provoked once and
its answer checked, then the log is read as a whole.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import httpx
import pytest
import websockets

from config import Settings
from tests.support.audit import audit_lines
from tests.support.servers import ServerProcess
from tests.support.tokens import SECRET, token
from tests.websocket.gateway.conformance import closed_by_server, decode_open, next_frame

ORIGIN = "https://app.example"
LOUD = frozenset({"warning", "error", "critical"})
DEFAULTS = Settings(jwt_secret_key=SECRET)

# (audit event, code) of every refusal the tour provokes.
EXPECTED = {
    ("protocol_error", "BAD_REQUEST"),  # Engine.IO requests the protocol does not allow
    ("handshake_refused", "ORIGIN_NOT_ALLOWED"),
    ("websocket_refused", "AUTH_REQUIRED"),
    ("websocket_refused", "AUTH_INVALID"),
    ("websocket_refused", "AUTH_EXPIRED"),
    ("websocket_refused", "INVALID_NAMESPACE"),
    ("protocol_error", "INVALID_PAYLOAD"),  # an event whose name is not a string
    ("protocol_error", "BAD_PACKET"),
    ("command_refused", "FORBIDDEN"),
    ("engineio_timeout", "AUTH_REQUIRED"),  # a session that never joins a namespace
    ("http_refused", "AUTH_REQUIRED"),
    ("http_refused", "AUTH_INVALID"),
    ("http_refused", "FORBIDDEN"),
    ("github_webhook_refused", "WEBHOOK_NOT_CONFIGURED"),
}
# Startup lines at `warning` that are not refusals: optional features that are off.
STARTUP_WARNINGS = {"github_webhooks_refused"}


@pytest.fixture
async def server() -> Any:
    process = ServerProcess(
        environment="production",
        jwt_secret_key=SECRET,
        cors_origins=ORIGIN,
        github_webhook_secret="",
        connect_failure_burst=DEFAULTS.connect_failure_burst,  # the suite's test_env raises it
    )
    await process.start()
    yield process
    await process.stop()


async def sio_connect(url: str, auth: dict[str, Any] | None, namespace: str = "/ws") -> tuple[Any, str]:
    """A raw WebSocket that sent a Socket.IO CONNECT; the first answer to it."""
    ws = await websockets.connect(url, open_timeout=5)
    decode_open(str(await next_frame(ws)))
    await ws.send(f"40{namespace}," + (json.dumps(auth) if auth is not None else ""))
    return ws, str(await next_frame(ws))


async def test_every_refusal_is_one_audit_line_and_nothing_is_an_error(server: ServerProcess) -> None:
    ws_url = server.url.replace("http://", "ws://") + "/ws/socket.io/?EIO=4&transport=websocket"
    # Opened first: it is closed CONNECT_TIMEOUT (default 5 s) later, while the tour goes on.
    idle = await websockets.connect(ws_url, open_timeout=5)
    decode_open(str(await next_frame(idle)))

    async with httpx.AsyncClient(base_url=server.url, timeout=5) as http:
        engine = "/ws/socket.io/"
        refused = [
            await http.get(engine, params={"EIO": "4"}),
            await http.put(engine, params={"EIO": "4", "transport": "polling"}),
            await http.get(engine, params={"EIO": "3", "transport": "polling"}),
            await http.get(engine, params={"EIO": "4", "transport": "polling", "sid": "no-such-session"}),
        ]
        assert [r.status_code for r in refused] == [400] * 4
        assert {r.json()["code"] for r in refused} == {"BAD_REQUEST"}
        evil = await http.get(
            engine, params={"EIO": "4", "transport": "polling"}, headers={"Origin": "https://evil.example"}
        )
        assert (evil.status_code, evil.json()["code"]) == (400, "ORIGIN_NOT_ALLOWED")
        # Paths under /ws that are not Engine.IO's stay plain 404s, not refusals.
        assert (await http.get("/ws/dev-token")).status_code == 404

        publish = "/api/events"
        assert (await http.post(publish, json={})).status_code == 401
        assert (await http.post(publish, json={}, headers={"Authorization": "Bearer x"})).status_code == 401
        user = {"Authorization": f"Bearer {token('not-a-publisher')}"}
        assert (await http.post(publish, json={}, headers=user)).status_code == 403
        hook = await http.post(
            "/webhooks/github", content=b"{}", headers={"X-GitHub-Event": "ping", "X-GitHub-Delivery": "d-1"}
        )
        assert (hook.status_code, hook.json()["detail"]["code"]) == (503, "WEBHOOK_NOT_CONFIGURED")

    for auth, code in [
        (None, "AUTH_REQUIRED"),
        ({"token": "not-a-jwt"}, "AUTH_INVALID"),
        ({"token": token("late", ttl_seconds=-60)}, "AUTH_EXPIRED"),
    ]:
        ws, answer = await sio_connect(ws_url, auth)
        assert answer.startswith("44/ws,") and json.loads(answer[6:])["data"]["code"] == code, answer
        await ws.close()
    ws, answer = await sio_connect(ws_url, {"token": token("lost")}, namespace="/elsewhere")
    assert json.loads(answer.removeprefix("44/elsewhere,"))["data"]["code"] == "INVALID_NAMESPACE"
    await ws.close()

    ws, answer = await sio_connect(ws_url, {"token": token("tourist")})
    assert answer.startswith("40/ws,"), answer
    await ws.send("42/ws,1[42,{}]")  # an event name must be a string
    await ws.send('42/ws,2["subscribe",{"room":"user:someone-else"}]')
    while not (frame := str(await next_frame(ws))).startswith("43/ws,2"):
        pass
    assert json.loads(frame.removeprefix("43/ws,2"))[0]["code"] == "FORBIDDEN"
    await ws.send("47/ws,[]")  # no such Socket.IO packet type: the session is closed
    await closed_by_server(ws)

    await closed_by_server(idle, within=DEFAULTS.connect_timeout + 3)
    await server.stop()  # the audit summaries are written, the log is complete

    records = server.records()
    assert server.trouble() == []
    audited = Counter((r["event"], r["code"]) for r in audit_lines(records))
    assert set(audited) == EXPECTED, set(audited) ^ EXPECTED
    loud = [r for r in records if str(r.get("level")).lower() in LOUD and r.get("logger") != "audit"]
    loud = [r for r in loud if r["event"] not in STARTUP_WARNINGS]
    assert loud == [], loud  # nothing said twice, by another logger
    assert [r["event"] for r in records if r["event"] in STARTUP_WARNINGS] == ["github_webhooks_refused"]
    assert {str(r["level"]).lower() for r in audit_lines(records)} <= {"warning", "info"}
