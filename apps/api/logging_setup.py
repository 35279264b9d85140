"""Structured logging, configured once at start-up.

structlog renders both its own events and the standard library's records
(uvicorn, python-socketio), so every line in a deployment has one format:
coloured key=value lines for a developer's terminal, JSON lines for machines.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any, Literal

import orjson
import structlog

LogFormat = Literal["console", "json"]

# A JWT (three base64url parts, the first an encoded JSON header) and a
# `token=` query parameter, as a library's log line could carry them (uvicorn
# logs WebSocket paths with their query string).
_SECRETS = re.compile(r"eyJ[\w-]{5,}\.[\w-]+\.[\w-]*|(?<=token=)[^&\s'\"]+")


def redact_secrets(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Replace anything token-shaped in a log line, whoever logged it (no exception, dev token included)."""
    for key, value in event_dict.items():
        if isinstance(value, str) and ("eyJ" in value or "token=" in value):
            event_dict[key] = _SECRETS.sub("[redacted]", value)
    return event_dict


# Libraries that log per message at INFO; only their warnings are interesting.
_QUIET_LOGGERS = (
    "socketio", "socketio.server", "engineio", "engineio.server", "uvicorn.access", "uvicorn.websockets",
)  # fmt: skip
# uvicorn logs one line per accepted WebSocket on "uvicorn.error"; our own
# `websocket_connect` line says more, once. Its other lines (start-up,
# shutdown, refusals, errors) stay.
_UVICORN_PER_CONNECTION = frozenset({'%s - "WebSocket %s" [accepted]'})


class _PerConnectionLines(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.msg not in _UVICORN_PER_CONNECTION


def _json_dumps(obj: Any, **kwargs: Any) -> str:
    """orjson behind JSONRenderer's `json.dumps` interface (several times faster per line)."""
    try:
        return orjson.dumps(obj, default=kwargs.get("default"), option=orjson.OPT_NON_STR_KEYS).decode()
    except orjson.JSONEncodeError:  # what orjson refuses (e.g. integers beyond 64 bits)
        return json.dumps(obj, **kwargs)


def configure_logging(level: str = "INFO", fmt: LogFormat = "console") -> None:
    # Record fields our formatter never prints, each costing calls per record
    # (the logging HOWTO's "Optimization" section); _srcfile = None skips the
    # caller lookup, which walks the stack for every record.
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    logging._srcfile = None
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        redact_secrets,
    ]
    renderer: structlog.types.Processor
    if fmt == "json":
        renderer = structlog.processors.JSONRenderer(serializer=_json_dumps)
        shared.append(structlog.processors.format_exc_info)
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())

    structlog.configure(
        processors=[
            # First, so a call below the configured level costs a comparison, not the whole chain.
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    uvicorn_error = logging.getLogger("uvicorn.error")
    uvicorn_error.filters[:] = [f for f in uvicorn_error.filters if not isinstance(f, _PerConnectionLines)]
    uvicorn_error.addFilter(_PerConnectionLines())
    for name in _QUIET_LOGGERS:
        logging.getLogger(name).setLevel(max(logging.WARNING, logging.getLevelName(level)))


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    logger: structlog.stdlib.BoundLogger = structlog.get_logger(name)
    return logger
