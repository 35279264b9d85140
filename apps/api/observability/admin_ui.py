"""The official Socket.IO Admin UI (https://socket.io/docs/v4/admin-ui/), off by default.

With ADMIN_UI_USERNAME and ADMIN_UI_PASSWORD set, python-socketio's
`instrument()` adds the `/admin` namespace the Admin UI connects to; its
handler takes precedence over the catch-all that refuses unknown namespaces,
so without credentials `/admin` is refused like any other namespace.

Caveats of python-socketio's instrumentation, worth knowing before enabling
it in production: it patches Engine.IO's socket class for the whole process
(so every server in the process reports to this one), and in development mode
it reports every event to the admins, which costs time on every broadcast.
Hence production mode there and read-only by default (no emitting, joining
or disconnecting from the UI).
"""

from __future__ import annotations

import hmac
from typing import Any

from config import Settings
from logging_setup import get_logger
from websocket import audit
from websocket.gateway.admission import note_refusal
from websocket.protocol.errors import ErrorCode

ADMIN_NAMESPACE = "/admin"

log = get_logger("observability.admin_ui")


def credentials_checker(username: str, password: str) -> Any:
    """The Admin UI's login test: constant-time, never logs what was sent.

    A failure is audited and counted against the client's address like a bad
    token (websocket/gateway/admission.py); python-socketio gives this check only the
    auth dict, so the address comes from the connect in progress.
    """
    expected = (username.encode(), password.encode())

    def check(auth: Any) -> bool:
        given_user = auth.get("username") if isinstance(auth, dict) else None
        given_password = auth.get("password") if isinstance(auth, dict) else None
        if not isinstance(given_user, str) or not isinstance(given_password, str):
            ok = False
        else:
            # Both comparisons always run, so timing does not tell which one failed.
            ok = hmac.compare_digest(given_user.encode(), expected[0]) & hmac.compare_digest(
                given_password.encode(), expected[1]
            )
        if ok:
            log.info("admin_ui_login", ok=ok)
        else:
            address = note_refusal(ErrorCode.AUTH_INVALID)
            audit.denied("admin_ui_login_refused", ErrorCode.AUTH_INVALID, client_addr=address)
        return ok

    return check


def enable_admin_ui(sio: Any, settings: Settings) -> Any:
    """Instrument `sio` when credentials are configured; return the instrumentation or None."""
    if not settings.admin_ui_enabled or settings.admin_ui_password is None:
        return None
    mode = "production" if settings.is_production else "development"
    admin = sio.instrument(
        auth=credentials_checker(
            settings.admin_ui_username.strip(), settings.admin_ui_password.get_secret_value()
        ),
        mode=mode,
        read_only=settings.admin_ui_read_only,
        namespace=ADMIN_NAMESPACE,
    )
    log.info("admin_ui_enabled", namespace=ADMIN_NAMESPACE, mode=mode, read_only=settings.admin_ui_read_only)
    return admin
