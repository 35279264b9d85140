"""Logging set up for hot paths: what is filtered costs nothing, what is kept still reads the same.

Each check runs in a fresh interpreter: configure_logging() changes the
process's logging for good, which the rest of the suite must not inherit.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from tests.support.servers import API_DIR


def run(code: str, level: str = "INFO") -> list[dict[str, object]]:
    """Run `code` after configure_logging(level, "json"); the JSON lines it logged."""
    script = (
        f"from logging_setup import configure_logging, get_logger\nconfigure_logging({level!r}, 'json')\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script + textwrap.dedent(code)],
        cwd=API_DIR,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return [json.loads(line) for line in proc.stderr.splitlines() if line.startswith("{")]


def test_uvicorn_per_connection_lines_are_dropped_and_its_other_lines_kept() -> None:
    lines = run(
        """
        import logging
        uvicorn = logging.getLogger("uvicorn.error")
        uvicorn.info("Application startup complete.")
        uvicorn.info('%s - "WebSocket %s" [accepted]', "127.0.0.1:5000", "/ws/socket.io/?EIO=4")
        uvicorn.info('%s - "WebSocket %s" 403', "127.0.0.1:5001", "/ws/socket.io/?EIO=4")
        """
    )
    events = [line["event"] for line in lines]
    refused = '127.0.0.1:5001 - "WebSocket /ws/socket.io/?EIO=4" 403'
    assert events == ["Application startup complete.", refused]


def test_a_call_below_the_level_stops_before_any_other_processor() -> None:
    lines = run(
        """
        import structlog
        processors = structlog.get_config()["processors"]
        def must_not_run(logger, name, event):
            raise AssertionError("a processor ran for a filtered call")
        structlog.configure(processors=[processors[0], must_not_run, *processors[1:]])
        get_logger("filtered").debug("filtered", n=1)
        structlog.configure(processors=processors)
        get_logger("kept").info("kept", n=2)
        """
    )
    assert [(line["event"], line["n"]) for line in lines] == [("kept", 2)]


def test_json_lines_keep_their_shape_and_values_orjson_refuses() -> None:
    [line] = run(
        """
        get_logger("websocket.events").info("websocket_connect", user_id="u-1", big=2**70, keys={1: "a"})
        """
    )
    assert line["event"] == "websocket_connect" and line["logger"] == "websocket.events"
    assert line["level"] == "info" and line["timestamp"].endswith("Z")
    assert line["big"] == 2**70 and line["keys"] == {"1": "a"}
