"""The live events dashboard: `GET /ws/dashboard` and its static files.

Everything the page needs is served from here, including the socket.io-client
browser bundle (vendored byte for byte from the pinned npm package), so the
page works on a machine without internet. Only the files listed below are
served: no directory listing, no path from the URL reaches the filesystem.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse

STATIC_DIR = Path(__file__).resolve().parents[1] / "static"
FILES = {
    "dashboard.js": (STATIC_DIR / "dashboard.js", "text/javascript"),
    "dashboard.css": (STATIC_DIR / "dashboard.css", "text/css"),
    "socket.io.min.js": (STATIC_DIR / "vendor" / "socket.io.min.js", "text/javascript"),
    "realtime-client.js": (STATIC_DIR / "realtime-client.js", "text/javascript"),
}
# Scripts and styles from this server only; sockets and fetches to this origin only.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
HEADERS = {"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"}

router = APIRouter(tags=["dashboard"])
# The files are served even with the dashboard off: apps load the client helper from here.
static_router = APIRouter(tags=["static"])


@router.get("/ws/dashboard", response_class=FileResponse)
async def dashboard() -> FileResponse:
    """The live events page: connect with a token, subscribe to rooms, watch events arrive."""
    headers = {**HEADERS, "Content-Security-Policy": CSP, "Referrer-Policy": "no-referrer"}
    return FileResponse(STATIC_DIR / "dashboard.html", media_type="text/html; charset=utf-8", headers=headers)


DASHBOARD_ASSETS = frozenset({"dashboard.js", "dashboard.css"})


@static_router.get("/ws/static/{name}", response_class=FileResponse)
async def static_file(name: str, request: Request) -> FileResponse:
    dashboard_off = not request.app.state.settings.dashboard_enabled
    if name not in FILES or (dashboard_off and name in DASHBOARD_ASSETS):
        raise HTTPException(
            status_code=404, detail={"code": "NOT_FOUND", "message": f"no static file {name!r}"}
        )
    path, media_type = FILES[name]
    return FileResponse(path, media_type=media_type, headers=HEADERS)
