"""Publishing from a process that serves no sockets (a worker, a cron job, a script).

    cd apps/api && REDIS_URL=redis://localhost:6379/0 python -m examples.worker <project-uuid>

With `REDIS_URL` set, `get_broadcaster()` publishes through Redis to every
server instance; nothing else is configured. Exit status 0 when the event was
handed to Redis, 1 when it could not be (Redis down: the broadcast gives up
after BROADCAST_TIMEOUT seconds and says so).
"""

from __future__ import annotations

import asyncio
import sys
from uuid import UUID

from events.broadcaster import get_broadcaster


async def main(project_id: UUID) -> int:
    async with get_broadcaster() as broadcaster:
        delivered = await broadcaster.broadcast_project_updated(
            project_id=project_id,
            project_name="Nightly import",
            status="active",
            updated_by="worker:nightly-import",
            changes={"last_import": "completed"},
        )
    print("published" if delivered else "not published: see the log above")
    return 0 if delivered else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main(UUID(sys.argv[1]))))
