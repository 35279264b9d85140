"""Nothing token-shaped reaches a log line, whoever writes it."""

from __future__ import annotations

import logging

import pytest

from logging_setup import configure_logging, get_logger
from tests.support.tokens import token


def test_tokens_are_redacted_from_our_lines_and_from_libraries(capsys: pytest.CaptureFixture[str]) -> None:
    secret = token("someone")
    configure_logging("INFO", "json")
    try:
        get_logger("test").warning("something", detail=f"Bearer {secret}")
        logging.getLogger("uvicorn.error").info(
            '%s - "WebSocket %s" 403', "127.0.0.1:5000", f"/socket.io/?EIO=4&token={secret}"
        )
        logging.getLogger("uvicorn.error").info("query token=abc&x=1")
    finally:
        configure_logging("INFO", "console")
    err = capsys.readouterr().err
    assert secret not in err and "abc" not in err
    assert err.count("[redacted]") == 3


def test_uvicorn_per_connection_accept_line_is_dropped(capsys: pytest.CaptureFixture[str]) -> None:
    """Our own websocket_connect line says more; uvicorn's [accepted] line would double the volume."""
    configure_logging("INFO", "json")
    try:
        accepted = '%s - "WebSocket %s" [accepted]'
        logging.getLogger("uvicorn.error").info(accepted, "127.0.0.1:5000", "/socket.io/")
        logging.getLogger("uvicorn.error").info("Started server process [%d]", 1)
    finally:
        configure_logging("INFO", "console")
    err = capsys.readouterr().err
    assert "[accepted]" not in err and "Started server process" in err


def test_no_line_is_an_exception_not_even_a_development_token(capsys: pytest.CaptureFixture[str]) -> None:
    secret = token("dev-user")
    configure_logging("INFO", "json")
    try:
        get_logger("main").info("development_token", token=secret)
    finally:
        configure_logging("INFO", "console")
    err = capsys.readouterr().err
    assert secret not in err and "[redacted]" in err
