"""Where clients find the server: the Socket.IO namespace and the Engine.IO paths.

URL rules (see WEBSOCKET_API.md): clients talk to the Socket.IO namespace
`/ws`. The Engine.IO endpoint answers both at `/socket.io/` (what
`io("http://host/ws")` uses) and at `/ws/socket.io/` (what
`io("http://host/ws", {path: "/ws/socket.io"})` uses, keeping all traffic
under the `/ws` mount). One constant each, used by the server, the CLI and
the tests.
"""

from __future__ import annotations

NAMESPACE = "/ws"


MOUNT_PATH = "/ws"


# Starlette's Mount leaves the prefix in scope["path"], and Engine.IO matches
# on scope["path"], so the path under the /ws mount is given in full.
ENGINEIO_PATH = "ws/socket.io"


DEFAULT_ENGINEIO_PATH = "socket.io"


ENGINEIO_PREFIXES = ("/" + ENGINEIO_PATH + "/", "/" + DEFAULT_ENGINEIO_PATH + "/")


def is_engineio_path(path: str) -> bool:
    """`path` (a request's full path) is one of the Engine.IO endpoints, with or without its last slash."""
    return (path if path.endswith("/") else path + "/").startswith(ENGINEIO_PREFIXES)
