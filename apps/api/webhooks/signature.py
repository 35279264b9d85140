"""GitHub's delivery signature: HMAC-SHA256 of the raw body, in `X-Hub-Signature-256`.

The HMAC is computed over the bytes exactly as received, before any parsing;
re-serialising the JSON would change them. Comparison is constant-time.
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "X-Hub-Signature-256"
PREFIX = "sha256="


def sign(secret: bytes, body: bytes) -> str:
    """The header value GitHub sends for `body` (also how tests and scripts sign a delivery)."""
    return PREFIX + hmac.new(secret, body, hashlib.sha256).hexdigest()


def verify(secret: bytes, body: bytes, header: str | None) -> bool:
    """True when `header` is the signature of `body` under `secret`."""
    if not header or not header.startswith(PREFIX):
        return False
    return hmac.compare_digest(sign(secret, body).encode(), header.strip().encode())
