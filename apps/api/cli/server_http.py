"""Talking to a running server over HTTP: its address, a token for it, `POST /api/events`.

Used by `emit` when no REDIS_URL is set (the embedded default: the only way
from another process into a single instance is its publish API) and by `tail`
for the development token. aiohttp is the transport python-socketio's client
needs anyway, so it is a runtime dependency and the CLI runs in `make run`'s
environment (requirements.txt alone).
"""

from __future__ import annotations

import ipaddress
from typing import Any

import aiohttp

from config import Settings
from websocket.access.tokens import mint_token

PUBLISH_PATH = "/api/events"
TIMEOUT = aiohttp.ClientTimeout(total=10)
# What a wildcard bind is reached through from this machine.
_WILDCARDS = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}


def server_url(settings: Settings) -> str:
    """The server these settings describe, as seen from this machine (HOST, PORT)."""
    host = _WILDCARDS.get(settings.host, settings.host)
    try:
        if ipaddress.ip_address(host).version == 6:
            host = f"[{host}]"
    except ValueError:
        pass  # a name, such as localhost
    return f"http://{host}:{settings.port}"


async def fetch_dev_token(url: str) -> str:
    """The development token of a server on this machine (GET /ws/dev-token)."""
    answer = await _request("GET", url, "/ws/dev-token")
    if answer.status != 200:
        raise RuntimeError(
            f"{url}/ws/dev-token answered {answer.status} (it exists in development only, "
            f"for this machine only){answer.detail}: pass --token, or set JWT_SECRET_KEY"
        )
    return str(answer.body["token"])


def publisher_token(settings: Settings) -> str | None:
    """A short-lived publishing token signed with JWT_SECRET_KEY, or None without one."""
    secret = settings.jwt_secret_key.get_secret_value() if settings.jwt_secret_key else ""
    if not secret:
        return None
    claims = {"aud": settings.jwt_audience, "iss": settings.jwt_issuer}
    return mint_token(
        secret, sub="cli", email="cli@localhost", role="service", scopes=[], ttl_seconds=60,
        extra={name: value for name, value in claims.items() if value},
    )  # fmt: skip


async def publish(url: str, token: str, event: dict[str, Any]) -> dict[str, Any]:
    """`POST /api/events` with one event; the published event's entry of the answer."""
    answer = await _request("POST", url, PUBLISH_PATH, json=event, token=token)
    if answer.status not in (202, 503):
        raise RuntimeError(f"POST {url}{PUBLISH_PATH} answered {answer.status}{answer.detail}")
    return dict(answer.body["events"][0])


class _Answer:
    def __init__(self, status: int, body: Any) -> None:
        self.status = status
        self.body = body if isinstance(body, dict) else {}

    @property
    def detail(self) -> str:
        detail = self.body.get("detail")
        if isinstance(detail, dict) and "code" in detail:
            return f" {detail['code']}: {detail.get('message', '')}"
        return ""


async def _request(
    method: str, url: str, path: str, *, json: Any = None, token: str | None = None
) -> _Answer:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        async with (
            aiohttp.ClientSession(timeout=TIMEOUT) as http,
            http.request(method, url.rstrip("/") + path, json=json, headers=headers) as response,
        ):
            body = await response.json(content_type=None) if response.content_length != 0 else None
            return _Answer(response.status, body)
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise RuntimeError(
            f"cannot reach the server at {url} ({exc or type(exc).__name__}): is it running (make run)?"
        ) from None
    except ValueError:  # not JSON: not this server
        raise RuntimeError(f"{url}{path} did not answer JSON: is that this event server?") from None
