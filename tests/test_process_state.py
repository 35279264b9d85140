"""conftest's autouse reset puts every process-wide singleton back (tests/support/process_state.py)."""

from __future__ import annotations

import logging

import structlog
from structlog.stdlib import ProcessorFormatter

from config import get_settings
from events.broadcaster import NoTransport, get_broadcaster
from events.dedupe import DEFAULT_WINDOW, MemoryDedupeStore
from logging_setup import configure_logging
from tests.support.process_state import reset_process_state
from webhooks.projects import default_project_resolver, get_project_resolver, set_project_resolver
from websocket import audit
from websocket.access.policy import default_room_policy, get_room_policy, set_room_policy
from websocket.protocol.errors import ErrorCode


async def test_everything_a_test_may_change_is_put_back() -> None:
    async def nobody(*args: object) -> None:
        return None

    broadcaster = get_broadcaster()
    broadcaster.attach(NoTransport())
    store = MemoryDedupeStore()
    broadcaster.use_dedupe(store, window=1)
    set_room_policy(nobody)  # type: ignore[arg-type]
    set_project_resolver(nobody)
    settings = get_settings()
    kind = ("websocket_refused", ErrorCode.AUTH_INVALID.value, "10.0.0.1", None, None)
    audit.summaries.first(kind, "warning")
    processors = structlog.get_config()["processors"]
    configure_logging("DEBUG", "json")  # no await until the reset: nothing else logs meanwhile
    await reset_process_state()

    assert not broadcaster.attached and broadcaster.dedupe is not store
    assert broadcaster.dedupe_window == DEFAULT_WINDOW
    assert get_room_policy() is default_room_policy
    assert get_project_resolver() is default_project_resolver
    assert get_settings() is not settings
    assert audit.summaries._repeats == {}
    assert structlog.get_config()["processors"] is processors
    assert not structlog.get_config()["cache_logger_on_first_use"]
    # (configure_logging() also drops pytest's capture handlers: pytest sets its own again per phase.)
    assert not [h for h in logging.getLogger().handlers if isinstance(h.formatter, ProcessorFormatter)]
    assert logging.getLogger("uvicorn.error").filters == []
