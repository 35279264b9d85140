"""The process-wide state of the server's modules, put back before and after every test.

Tests share this process with the in-process servers, and with these
singletons (found by looking for `global`, `lru_cache` and module-level mutable
objects under apps/api):

* the broadcaster (`events.broadcaster._broadcaster`): which transport it delivers
  through, its dedupe store and window;
* the room policy (`websocket.access.policy`) and the GitHub project resolver
  (`webhooks.projects`), which host applications replace;
* the audit summaries (`websocket.audit.summaries`): the refusal kinds already
  written, whose repeats would only be counted in the next test;
* the cached settings (`config.get_settings`, `config.get_publisher_settings`);
* the logging configuration (`logging_setup.configure_logging` changes structlog's
  and the standard library's for the whole process).

Left alone, on purpose: the sets that keep running tasks alive
(`websocket.server.sio._pending`, `websocket.internals.fastsocket._closing_tasks`:
emptying them would let the garbage collector cancel work in flight) and the
`functools.cache`s of `contract/` (documents derived from the code alone).
"""

from __future__ import annotations

import logging
from typing import Any

import structlog

from config import get_publisher_settings, get_settings
from events.broadcaster import get_broadcaster
from webhooks.projects import set_project_resolver
from websocket import audit
from websocket.access.policy import set_room_policy

# The loggers configure_logging() changes, besides the root logger.
_LOGGERS = (
    "uvicorn",
    "uvicorn.error",
    "uvicorn.access",
    "socketio",
    "socketio.server",
    "engineio",
    "engineio.server",
)
_FLAGS = ("logThreads", "logProcesses", "logMultiprocessing", "_srcfile")


class LoggingState:
    """structlog's configuration and the standard library loggers configure_logging() touches."""

    def __init__(self) -> None:
        config = structlog.get_config()
        self.processors = config["processors"]  # the very list: cached loggers hold on to it
        self.chain = list(self.processors)
        self.config = {key: value for key, value in config.items() if key != "processors"}
        self.flags = {name: getattr(logging, name) for name in _FLAGS}
        self.root_level = logging.getLogger().level
        self.root_handlers = list(logging.getLogger().handlers)
        self.loggers = {name: self._of(logging.getLogger(name)) for name in _LOGGERS}

    @staticmethod
    def _of(logger: logging.Logger) -> tuple[int, bool, list[Any], list[Any]]:
        return logger.level, logger.propagate, list(logger.handlers), list(logger.filters)

    def restore(self) -> None:
        config = structlog.get_config()
        changed = config["processors"] is not self.processors or self.processors != self.chain
        if changed or any(config[key] != value for key, value in self.config.items()):
            self.processors[:] = self.chain
            structlog.configure(processors=self.processors, **self.config)
        for name, value in self.flags.items():
            setattr(logging, name, value)
        root = logging.getLogger()
        root.setLevel(self.root_level)
        # Only what a test added that pytest did not: pytest's capture handlers come and go per phase.
        for handler in root.handlers[:]:
            if isinstance(handler.formatter, structlog.stdlib.ProcessorFormatter) and (
                handler not in self.root_handlers
            ):
                root.removeHandler(handler)
        for name, (level, propagate, handlers, filters) in self.loggers.items():
            logger = logging.getLogger(name)
            logger.setLevel(level)
            logger.propagate = propagate
            logger.handlers[:] = handlers
            logger.filters[:] = filters


_logging = LoggingState()  # as it was when the test session began


async def reset_process_state() -> None:
    """Everything above as a fresh process has it (no server attached to the broadcaster)."""
    _logging.restore()  # first, before anything here could let another task log
    broadcaster = get_broadcaster()
    if broadcaster.attached:
        broadcaster.detach()  # the transport is a server's, which closes it
    else:
        await broadcaster.aclose()  # a publisher it opened by itself (REDIS_URL), or nothing
    broadcaster.use_dedupe(None)  # the default store and window
    set_room_policy(None)
    set_project_resolver(None)
    # The kinds already written: their next refusal would only be counted for a summary.
    # The summaries keep running for the in-process servers that started them.
    audit.summaries._repeats.clear()
    get_settings.cache_clear()
    get_publisher_settings.cache_clear()
