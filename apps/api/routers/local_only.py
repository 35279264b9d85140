"""The one rule for development conveniences: this machine, directly, or nothing.

The development token, the example routes and the dashboard's "Use
development token" button answer a request only when all of these hold:

* the peer is a loopback address (as the ASGI scope gives it, after
  `ProxyHeadersMiddleware`), and not one of `TRUSTED_PROXIES`: a request
  from a declared proxy was relayed by definition, whatever headers it kept;
* the `Host` header is `localhost`, `127.0.0.1` or `[::1]` (with an optional
  port), so a web page that re-binds its own DNS name to 127.0.0.1 is refused
  (its requests carry its own name);
* an `Origin` header, when present, is a loopback origin too, so no other
  site's page can read the answer even where CORS would let it;
* no forwarding header of any kind is present (`Forwarded`, `X-Forwarded-*`,
  `X-Real-IP`, `Via`, the CDN ones, ...): a loopback peer that relays is a
  proxy, and the real client could be anywhere.

`refusal()` is the rule as a pure function; `require_local` is the FastAPI
dependency that applies it, answering 403 `{detail: {code, message}}` and
writing one audit line per refusal.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Sequence

from fastapi import HTTPException, Request

from websocket import audit
from websocket.protocol.errors import ErrorCode

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "[::1]"})
_HOST = re.compile(r"(?P<name>\[[0-9a-fA-F:.]+\]|[^:\[\]]+)(?::(?P<port>[0-9]{1,5}))?")
_ORIGIN = re.compile(r"https?://(?P<host>.+)")
# Headers a proxy, load balancer or CDN adds to say whom it relays for.
FORWARDING_HEADERS = frozenset(
    {
        "forwarded", "via", "x-real-ip", "x-client-ip", "true-client-ip", "cf-connecting-ip",
        "cf-connecting-ipv6", "x-cluster-client-ip", "fastly-client-ip", "client-ip", "x-originating-ip",
        "x-remote-ip", "x-remote-addr", "x-proxyuser-ip", "x-host", "x-original-host", "x-http-host",
        "x-azure-clientip", "x-azure-socketip", "x-appengine-user-ip", "x-envoy-external-address",
        "x-original-url", "x-rewrite-url",
    }
)  # fmt: skip
# Whole families: X-Forwarded-For/-Host/-Proto/-Port/-Prefix/-Server, X-Original-Forwarded-For, ...
FORWARDING_PREFIXES = ("x-forwarded-", "x-original-forwarded-", "x-envoy-", "x-amzn-", "cf-", "fastly-")


def is_forwarding_header(name: str) -> bool:
    name = name.lower()
    return name in FORWARDING_HEADERS or name.startswith(FORWARDING_PREFIXES) or "forwarded" in name


def is_loopback_address(host: str) -> bool:
    """127.0.0.0/8, ::1, and IPv4-mapped forms of them (what a dual-stack socket reports)."""
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


def is_loopback_bind(host: str) -> bool:
    """Whether a HOST setting listens on this machine only (`localhost` included)."""
    return host == "localhost" or is_loopback_address(host)


def is_loopback_host_header(value: str) -> bool:
    """`localhost`, `127.0.0.1` or `[::1]`, each with an optional port; nothing else."""
    match = _HOST.fullmatch(value.strip())
    if match is None or match["name"].lower() not in LOOPBACK_NAMES:
        return False
    return match["port"] is None or 0 < int(match["port"]) < 65536


def is_loopback_origin(value: str) -> bool:
    match = _ORIGIN.fullmatch(value.strip())
    return match is not None and is_loopback_host_header(match["host"])


def _in_networks(host: str, networks: Iterable[str]) -> bool:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(net, strict=False) for net in networks)


def refusal(
    client: Sequence[object] | None,
    headers: Sequence[tuple[bytes, bytes]],
    trusted_proxies: Iterable[str] = (),
) -> str | None:
    """Why a request is not one made on this machine directly, or None when it is.

    `client` and `headers` are the ASGI scope's (`scope["client"]`, `scope["headers"]`).
    """
    peer = str(client[0]) if client else ""
    if not is_loopback_address(peer):
        return f"the peer address {peer or '(none)'} is not a loopback address"
    if _in_networks(peer, trusted_proxies):
        return "the peer is a trusted proxy (TRUSTED_PROXIES): the request was relayed"
    hosts: list[str] = []
    for raw_name, raw_value in headers:
        name = raw_name.decode("latin-1").lower()
        if is_forwarding_header(name):
            return f"a forwarding header ({name}) is present: the request was relayed"
        if name == "host":
            hosts.append(raw_value.decode("latin-1"))
        elif name == "origin" and not is_loopback_origin(raw_value.decode("latin-1")):
            return "the Origin header is not a loopback origin"
    if len(hosts) != 1 or not is_loopback_host_header(hosts[0]):
        return "the Host header is not localhost, 127.0.0.1 or [::1]"
    return None


def request_refusal(request: Request) -> str | None:
    """`refusal()` for a FastAPI request, with this app's TRUSTED_PROXIES."""
    scope = request.scope
    return refusal(scope.get("client"), scope.get("headers", []), request.app.state.settings.trusted_proxies)


def require_local(request: Request) -> None:
    """FastAPI dependency: 403 unless the request was made on this machine, directly."""
    reason = request_refusal(request)
    if reason is None:
        return
    client_addr = request.client.host if request.client else "unknown"
    path = request.url.path
    audit.denied("local_only_refused", ErrorCode.FORBIDDEN, client_addr=client_addr, path=path, reason=reason)
    raise HTTPException(
        status_code=403,
        detail={
            "code": ErrorCode.FORBIDDEN.value,
            "message": f"Development helpers answer requests made on this machine only: {reason}",
        },
    )
