"""Revocations kept in Redis, so that every instance enforces them, including later ones.

One sorted set, `<REDIS_KEY_PREFIX>:revocations`: a member per revocation
(`[action, user_id, room, reason]` as JSON), scored by when it was issued.
Whoever issues a revocation (the broadcaster's Redis transport, in a server
or in a write-only publisher) adds it in the same round trip as the control
message, before it, so an instance that subscribes and then reads the set
misses nothing. Every write also prunes: members older than the retention
(`JWT_MAX_LIFETIME`; any token issued before them has expired by then),
members beyond `MAX_REMEMBERED` (oldest first), and the key itself expires
that long after the last write. The key's owner is this module.

It uses the publisher's client (bounded time, one round trip), never one of
its own.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

from pydantic import ValidationError
from redis.asyncio.client import Pipeline

from logging_setup import get_logger
from websocket.access.revocation import CONTROL_METHOD, MAX_REMEMBERED, Revocation
from websocket.broker.connection import RedisPublisher
from websocket.protocol import jsonlib

log = get_logger("websocket.broker.revocations")

PAGE = 1000  # members per read: ~0.1 MB, a few ms


class RedisRevocations:
    def __init__(
        self, publisher: RedisPublisher, prefix: str, retention: float, max_entries: int = MAX_REMEMBERED
    ) -> None:
        self.publisher = publisher
        self.key = f"{prefix}:revocations"
        self.retention = retention
        self.max_entries = max_entries

    def queue(self, pipe: Pipeline, message: dict[str, Any]) -> bool:
        """Add the write of a revocation control message to `pipe`; False when it is not one."""
        if message.get("method") != CONTROL_METHOD:
            return False
        revocation = Revocation.model_validate(message)
        member = jsonlib.dumps([revocation.action, revocation.user_id, revocation.room, revocation.reason])
        pipe.zadd(self.key, {member: revocation.at})
        pipe.zremrangebyscore(self.key, "-inf", f"({time.time() - self.retention}")
        pipe.zremrangebyrank(self.key, 0, -(self.max_entries + 1))
        pipe.pexpire(self.key, int(self.retention * 1000))
        return True

    async def load(self) -> list[Revocation]:
        """Every revocation still within the retention, oldest first (raises PublishError)."""
        return [revocation async for page in self.pages() for revocation in page]

    async def pages(self) -> AsyncIterator[list[Revocation]]:
        """The same, a page at a time (raises PublishError).

        Each page is one round trip within the publisher's time bound, and
        only one page is held at a time: a full set is `max_entries` members,
        far more than one bounded read.
        """
        low = time.time() - self.retention
        seen: set[bytes] = set()  # members already read whose score is `low`
        size, read, dropped = PAGE, 0, 0
        while read < self.max_entries:
            rows = await self._read(low, size)
            fresh = [(member, at) for member, at in rows if not (at == low and member in seen)]
            parsed = [_parse(member, at) for member, at in fresh]
            page = [revocation for revocation in parsed if revocation is not None]
            dropped += len(parsed) - len(page)
            read += len(parsed)
            if page:
                yield page
            if len(rows) < size:
                break
            if not fresh:  # a whole page shares one score: read more of it at once
                size *= 2
                continue
            last = fresh[-1][1]
            seen = {member for member, at in rows if at == last} | (seen if last == low else set())
            low = last
        if dropped:
            log.warning("revocations_malformed", key=self.key, dropped=dropped)

    async def _read(self, low: float, size: int) -> list[tuple[bytes, float]]:
        def build(pipe: Pipeline) -> None:
            pipe.zrangebyscore(self.key, low, "+inf", start=0, num=size, withscores=True)

        rows: list[tuple[bytes, float]] = (await self.publisher.run(build))[0]
        return rows


def _parse(member: bytes, at: float) -> Revocation | None:
    try:
        action, user_id, room, reason = jsonlib.loads(member)
        return Revocation(action=action, user_id=user_id, room=room, reason=reason, at=at)
    except (ValueError, TypeError, ValidationError):
        return None
