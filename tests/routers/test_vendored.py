"""The socket.io-client bundle the dashboard serves is the pinned npm package's own file."""

from __future__ import annotations

import json

from tests.support.node import JS_DIR, ensure_node_modules
from tests.support.servers import ROOT

VENDORED = ROOT / "apps/api/static/vendor/socket.io.min.js"


def test_vendored_bundle_is_byte_identical_to_the_pinned_package() -> None:
    ensure_node_modules()
    package = JS_DIR / "node_modules/socket.io-client"
    pinned = json.loads((JS_DIR / "package.json").read_text())["dependencies"]["socket.io-client"]
    assert json.loads((package / "package.json").read_text())["version"] == pinned
    assert VENDORED.read_bytes() == (package / "dist/socket.io.min.js").read_bytes(), (
        f"copy node_modules/socket.io-client/dist/socket.io.min.js ({pinned}) to {VENDORED.relative_to(ROOT)}"
    )
