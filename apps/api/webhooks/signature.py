"""GitHub's delivery signature: HMAC-SHA256 of the raw body, in `X-Hub-Signature-256`.

The HMAC is computed over the bytes exactly as received, before any parsing;
re-serialising the JSON would change them. Comparison is constant-time.
GitHub signs the body only: `X-GitHub-Event` and `X-GitHub-Delivery` can be
changed by anyone who replays a captured delivery.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from typing import TypeGuard

SIGNATURE_HEADER = "X-Hub-Signature-256"
PREFIX = "sha256="
# What GitHub sends: the prefix and 64 lower-case hex digits (hexdigest()).
_WELL_FORMED = re.compile(r"sha256=[0-9a-f]{64}")


def sign(secret: bytes, body: bytes) -> str:
    """The header value GitHub sends for `body` (also how tests and scripts sign a delivery)."""
    return PREFIX + hmac.new(secret, body, hashlib.sha256).hexdigest()


def well_formed(header: str | None) -> TypeGuard[str]:
    """Whether `header` could be a signature at all; anything else is refused before the body is read."""
    return header is not None and _WELL_FORMED.fullmatch(header.strip()) is not None


def new_mac(secret: bytes) -> hmac.HMAC:
    """An HMAC to feed the body into as it arrives (`update(chunk)`), then to check with `matches`."""
    return hmac.new(secret, digestmod=hashlib.sha256)


def matches(mac: hmac.HMAC, header: str | None) -> bool:
    """True when `header` is the signature `mac` has computed."""
    expected = (PREFIX + mac.hexdigest()).encode()
    return well_formed(header) and hmac.compare_digest(expected, header.strip().encode())


def verify(secret: bytes, body: bytes, header: str | None) -> bool:
    """True when `header` is the signature of `body` under `secret`."""
    mac = new_mac(secret)
    mac.update(body)
    return matches(mac, header)
