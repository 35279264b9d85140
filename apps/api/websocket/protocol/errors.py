"""Errors that reach clients: stable codes, safe messages, whether a retry helps.

The detail that would help an attacker (which check failed inside the token
validator, a stack trace) goes to the log, never into these messages.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class ErrorCode(StrEnum):
    # connection refusals (connect_error.data.code)
    AUTH_REQUIRED = "AUTH_REQUIRED"
    AUTH_INVALID = "AUTH_INVALID"
    AUTH_EXPIRED = "AUTH_EXPIRED"
    INVALID_NAMESPACE = "INVALID_NAMESPACE"
    SERVER_FULL = "SERVER_FULL"
    TOO_MANY_CONNECTIONS = "TOO_MANY_CONNECTIONS"
    SERVER_SHUTTING_DOWN = "SERVER_SHUTTING_DOWN"
    ACCESS_REVOKED = "ACCESS_REVOKED"
    # refused below Socket.IO (HTTP status / WebSocket close; in the audit log)
    ORIGIN_NOT_ALLOWED = "ORIGIN_NOT_ALLOWED"
    MESSAGE_TOO_LARGE = "MESSAGE_TOO_LARGE"
    BAD_PACKET = "BAD_PACKET"
    BAD_REQUEST = (
        "BAD_REQUEST"  # an Engine.IO request the protocol does not allow (gateway/protocol_rules.py)
    )
    REQUEST_TIMEOUT = "REQUEST_TIMEOUT"  # request headers or body too slow (front/)
    # forced disconnects (connection.error.code; also AUTH_EXPIRED, RATE_LIMITED, ACCESS_REVOKED)
    SLOW_CONSUMER = "SLOW_CONSUMER"
    TOO_MANY_HANDSHAKES = "TOO_MANY_HANDSHAKES"
    TOO_MANY_FAILED_CONNECTS = "TOO_MANY_FAILED_CONNECTS"
    # command errors (ack.code)
    INVALID_PAYLOAD = "INVALID_PAYLOAD"
    INVALID_ROOM = "INVALID_ROOM"
    FORBIDDEN = "FORBIDDEN"
    ROOM_NOT_LEAVABLE = "ROOM_NOT_LEAVABLE"
    UNKNOWN_COMMAND = "UNKNOWN_COMMAND"
    SUBSCRIPTION_LIMIT = "SUBSCRIPTION_LIMIT"
    RATE_LIMITED = "RATE_LIMITED"
    INTERNAL_ERROR = "INTERNAL_ERROR"


# Codes for which trying again later, unchanged, can succeed.
_RETRYABLE = frozenset(
    {
        ErrorCode.INTERNAL_ERROR,
        ErrorCode.SERVER_FULL,
        ErrorCode.SERVER_SHUTTING_DOWN,
        ErrorCode.RATE_LIMITED,
        ErrorCode.SLOW_CONSUMER,  # reconnect and resume from history
        ErrorCode.TOO_MANY_HANDSHAKES,  # the handshake is refused with Retry-After
    }
)


class WebSocketError(Exception):
    """Root of every error a client may be told about."""

    code: ErrorCode = ErrorCode.INTERNAL_ERROR

    def __init__(self, message: str, code: ErrorCode | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code

    @property
    def retryable(self) -> bool:
        return self.code in _RETRYABLE

    def to_data(self) -> dict[str, Any]:
        """The `{code, message}` body of a connect_error."""
        return {"code": self.code.value, "message": self.message, "retryable": self.retryable}

    def to_ack(self) -> dict[str, Any]:
        """The acknowledgement sent back for a failed command."""
        return {"status": "error", **self.to_data()}


class AuthError(WebSocketError):
    code = ErrorCode.AUTH_INVALID


class CommandError(WebSocketError):
    code = ErrorCode.INVALID_PAYLOAD
