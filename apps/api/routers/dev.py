"""Development helpers, mounted only when ENVIRONMENT=development."""

from __future__ import annotations

import ipaddress

from fastapi import APIRouter, HTTPException, Request

router = APIRouter(tags=["development"])


@router.get("/ws/dev-token")
async def dev_token(request: Request) -> dict[str, str]:
    """The development token, to this machine only (never over the network)."""
    host = request.client.host if request.client else ""
    try:
        local = ipaddress.ip_address(host).is_loopback
    except ValueError:
        local = False
    # Relayed by a proxy that TRUSTED_PROXIES does not name: the loopback peer is
    # the proxy, and the real client could be anywhere.
    relayed = "x-forwarded-for" in request.headers and not request.app.state.settings.trusted_proxies
    if not local or relayed:
        raise HTTPException(status_code=403, detail={"code": "FORBIDDEN", "message": "loopback only"})
    return {"token": request.app.state.dev_token, "user_id": "dev-user"}
