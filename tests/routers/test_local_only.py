"""The local-only rule as a pure function: peer, Host, Origin, forwarding headers, trusted proxies."""

from __future__ import annotations

import pytest

from routers.local_only import is_loopback_bind, is_loopback_host_header, refusal

LOCAL = ("127.0.0.1", 50000)


def headers(**pairs: str) -> list[tuple[bytes, bytes]]:
    return [(name.replace("_", "-").lower().encode(), value.encode()) for name, value in pairs.items()]


LOOPBACK_HOSTS = [
    "localhost", "localhost:8000", "LOCALHOST:8000", "127.0.0.1", "127.0.0.1:1", "[::1]", "[::1]:8000",
]  # fmt: skip


@pytest.mark.parametrize("host", LOOPBACK_HOSTS)
def test_loopback_host_headers(host: str) -> None:
    assert is_loopback_host_header(host)
    assert refusal(LOCAL, headers(host=host)) is None


@pytest.mark.parametrize(
    "host",
    [
        "evil.example",
        "evil.example:8000",
        "localhost.evil.example",
        "localhost.",
        "127.0.0.2",
        "127.1",
        "0.0.0.0:8000",
        "::1",
        "[::1",
        "localhost:",
        "localhost:0",
        "localhost:99999",
        "localhost:80:80",
        "192.0.2.2:8000",
        "",
    ],
)
def test_other_hosts_are_refused(host: str) -> None:
    assert not is_loopback_host_header(host)
    assert "Host" in str(refusal(LOCAL, headers(host=host)))


def test_missing_or_repeated_host_is_refused() -> None:
    assert refusal(LOCAL, []) is not None
    assert refusal(LOCAL, [(b"host", b"localhost"), (b"host", b"evil.example")]) is not None


@pytest.mark.parametrize("peer", [("127.0.0.1", 1), ("127.8.9.10", 1), ("::1", 1), ("::ffff:127.0.0.1", 1)])
def test_loopback_peers(peer: tuple[str, int]) -> None:
    assert refusal(peer, headers(host="localhost")) is None


@pytest.mark.parametrize(
    "peer", [("192.0.2.2", 1), ("::ffff:192.0.2.2", 1), ("fd00::2", 1), ("unknown", 0), None]
)
def test_other_peers_are_refused(peer: tuple[str, int] | None) -> None:
    assert "peer" in str(refusal(peer, headers(host="localhost")))


@pytest.mark.parametrize(
    "name",
    [
        "Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "X-Forwarded-Port",
        "X-Forwarded-Server", "X-Original-Forwarded-For", "X-Real-IP", "X-Client-IP", "True-Client-IP",
        "CF-Connecting-IP", "X-Cluster-Client-IP", "Fastly-Client-IP", "Via", "Client-IP", "X-Originating-IP",
        "X-Envoy-External-Address", "X-Amzn-Trace-Id", "X-Host", "X-Original-Host",
    ],
)  # fmt: skip
def test_any_forwarding_header_is_refused(name: str) -> None:
    reason = refusal(LOCAL, [(b"host", b"localhost:8000"), (name.lower().encode(), b"127.0.0.1")])
    assert reason is not None and name.lower() in reason


@pytest.mark.parametrize("origin", ["http://localhost:3000", "http://127.0.0.1:8000", "https://[::1]"])
def test_loopback_origins_pass(origin: str) -> None:
    assert refusal(LOCAL, headers(host="localhost:8000", origin=origin)) is None


@pytest.mark.parametrize(
    "origin", ["https://evil.example", "null", "http://localhost.evil.example", "file://"]
)
def test_other_origins_are_refused(origin: str) -> None:
    assert "Origin" in str(refusal(LOCAL, headers(host="localhost:8000", origin=origin)))


def test_a_trusted_proxy_peer_is_refused() -> None:
    """With TRUSTED_PROXIES naming loopback, every loopback peer could be that proxy."""
    assert "proxy" in str(refusal(LOCAL, headers(host="localhost"), ["127.0.0.0/8"]))
    assert refusal(LOCAL, headers(host="localhost"), ["10.0.0.0/8"]) is None


BINDS = [
    ("127.0.0.1", True), ("::1", True), ("localhost", True),
    ("0.0.0.0", False), ("::", False), ("192.0.2.2", False),
]  # fmt: skip


@pytest.mark.parametrize(("host", "loopback"), BINDS)
def test_loopback_bind(host: str, loopback: bool) -> None:
    assert is_loopback_bind(host) is loopback
