"""The HTTP front's settings: defaults, validation, and what uvicorn is given."""

from __future__ import annotations

import pytest

from config import SettingsError, load_settings
from serving import concurrency_limit, uvicorn_options
from websocket.internals.header_timeout import HeaderTimeoutProtocol

FRONT = ("LIMIT_CONCURRENCY", "MAX_CONNECTIONS", "HTTP_KEEPALIVE_TIMEOUT", "HTTP_HEADER_TIMEOUT",
         "HTTP_BODY_TIMEOUT", "HTTP_BODY_MIN_RATE")  # fmt: skip


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in FRONT:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir("/")  # no .env file


def test_defaults_and_what_uvicorn_gets() -> None:
    settings = load_settings()
    timeouts = (settings.http_header_timeout, settings.http_body_timeout, settings.http_body_min_rate)
    assert timeouts == (10, 10, 1024)
    options = uvicorn_options(settings)
    # Two slots per connection (a long-polling client's GET and POST), 10 % for sessions joining, 100 more.
    assert options["limit_concurrency"] == 2 * 10_000 + 1_000 + 100
    assert options["timeout_keep_alive"] == 5
    assert issubclass(options["http"], HeaderTimeoutProtocol)
    assert options["http"].header_timeout == 10


def test_the_derived_limit_follows_max_connections_and_a_setting_overrides_it() -> None:
    assert concurrency_limit(load_settings(max_connections=100)) == 200 + 10 + 100
    assert concurrency_limit(load_settings(max_connections=100, limit_concurrency=150)) == 150


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"max_connections": 100, "limit_concurrency": 100}, "LIMIT_CONCURRENCY must be above"),
        ({"http_header_timeout": 0}, "HTTP_HEADER_TIMEOUT"),
        ({"http_body_timeout": -1}, "HTTP_BODY_TIMEOUT"),
        ({"http_body_min_rate": -1}, "HTTP_BODY_MIN_RATE"),
        ({"http_keepalive_timeout": 0}, "HTTP_KEEPALIVE_TIMEOUT"),
    ],
)
def test_unusable_values_stop_the_start(overrides: dict[str, float], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        load_settings(**overrides)


def test_the_lean_websocket_protocol_is_given_for_websockets_sansio_only() -> None:
    from websocket.internals.ws_protocol import LeanWebSocketProtocol

    assert uvicorn_options(load_settings())["ws"] is LeanWebSocketProtocol
    assert uvicorn_options(load_settings(ws_lean_protocol=False))["ws"] == "websockets-sansio"
    assert uvicorn_options(load_settings(ws_implementation="wsproto"))["ws"] == "wsproto"
