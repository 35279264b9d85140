"""Live revocation: take a user out of a room, or off the server, on every instance.

The host application calls `get_broadcaster().revoke_room(user_id, room)` or
`.disconnect_user(user_id, reason)`. The broadcaster turns the call into one
control message: handed straight to this instance's `Revoker`
(websocket/server/revoker.py) in a single
instance, or published on the Socket.IO Redis channel, where every
instance's listener hands it to its own `Revoker` (write-only processes
included as senders).

Each instance also remembers the revocation (`RevocationList`) so a token
issued before it cannot simply undo it: such a token can no longer
re-subscribe to the revoked room, or connect and refresh after a user
disconnect. A token issued after the revocation (from the next second on,
JWT `iat` has whole seconds) passes again: the issuer has decided anew.

With Redis, revocations are also kept there (websocket/broker/revocations.py)
for `JWT_MAX_LIFETIME`: after that, every token issued before them has
expired anyway. An instance reads them at start and after each lost
subscription (`Revoker.catch_up`), so one started later, or deaf for a
while, enforces them too.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from websocket.access.tokens import Principal
from websocket.protocol.errors import WebSocketError
from websocket.protocol.rooms import parse_room

CONTROL_METHOD = "eventserver.revoke"
RETENTION_SECONDS = 24 * 3600
MAX_REMEMBERED = 100_000


class Revocation(BaseModel):
    """The control message; what travels on the channel besides `method` and `host_id`."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    action: Literal["room", "user"]
    user_id: str = Field(min_length=1, max_length=128)
    room: str | None = Field(default=None, max_length=200)
    reason: str = Field(max_length=500)
    at: float

    @classmethod
    def of_room(cls, user_id: str, room: str, reason: str) -> Revocation:
        try:
            name = str(parse_room(room))
        except WebSocketError as exc:
            raise ValueError(exc.message) from None
        if name == "global" or name == f"user:{user_id}":
            raise ValueError(f"{name} is joined automatically; use disconnect_user() instead")
        return cls(action="room", user_id=str(user_id), room=name, reason=reason, at=time.time())

    @classmethod
    def of_user(cls, user_id: str, reason: str) -> Revocation:
        return cls(action="user", user_id=str(user_id), reason=reason, at=time.time())

    def message(self) -> dict[str, Any]:
        """The control message; the transport adds its `host_id`."""
        return {"method": CONTROL_METHOD, **self.model_dump()}


class RevocationList:
    """What this instance was told to revoke, so that older tokens cannot undo it."""

    def __init__(self, retention: float = RETENTION_SECONDS, max_entries: int = MAX_REMEMBERED) -> None:
        self.retention = retention
        self.max_entries = max_entries
        self._at: OrderedDict[tuple[str, str | None], float] = OrderedDict()

    def remember(self, revocation: Revocation) -> bool:
        """Keep it (the latest per user and room); False when it was known already, or too old."""
        horizon = time.time() - self.retention
        key = (revocation.user_id, revocation.room)
        known = self._at.get(key)
        if revocation.at < horizon or (known is not None and known >= revocation.at):
            return False
        self._at.pop(key, None)
        self._at[key] = revocation.at
        while self._at and (len(self._at) > self.max_entries or next(iter(self._at.values())) < horizon):
            self._at.popitem(last=False)
        return True

    def bars(self, user: Principal, room: str | None = None) -> bool:
        """Whether `user`'s token predates a revocation of the user (room None) or of the room."""
        at = self._at.get((user.id, room))
        if at is None or at < time.time() - self.retention:
            return False
        return user.issued_at is None or user.issued_at <= at

    def __len__(self) -> int:
        return len(self._at)
