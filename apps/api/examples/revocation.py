"""Taking access away from users who are connected right now (WEBSOCKET_INTEGRATION_GUIDE.md).

Run from any process that shares the servers' REDIS_URL (or inside the server):

    python -m examples.revocation <user_id> <project_id>   # remove from one project
    python -m examples.revocation <user_id>                # disconnect everywhere
"""

from __future__ import annotations

import asyncio
import sys
from uuid import UUID

from events.broadcaster import get_broadcaster


async def remove_from_project(user_id: str, project_id: UUID) -> bool:
    # ... delete the membership first, so that the room policy refuses a new subscribe ...
    return await get_broadcaster().revoke_room(
        user_id, f"project:{project_id}", reason="You were removed from this project"
    )


async def disable_user(user_id: str) -> bool:
    # ... mark the account disabled first, so that no new token is issued ...
    return await get_broadcaster().disconnect_user(user_id, reason="Your account was disabled")


async def main(args: list[str]) -> int:
    async with get_broadcaster():
        if len(args) == 2:
            done = await remove_from_project(args[0], UUID(args[1]))
        else:
            done = await disable_user(args[0])
    print("revoked" if done else "not revoked: see the log above")
    return 0 if done else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1:])))
