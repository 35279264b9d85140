"""From a Socket.IO event to a command's acknowledgement, for every command alike.

The commands are those of the protocol's one table (`COMMANDS`,
websocket/protocol/commands.py): each is registered under its name, its
payload is validated with the model the table names, and it runs the
implementation of the same name (commands.py). A table of implementations
that misses a command, or has one the protocol does not, is refused when the
dispatcher is built, so such a server never starts.

Each command is, in order: bound to the log context, charged
(rate_limit.py), checked (one JSON object, valid for its model), run.
Every one is answered through the Socket.IO ack, `{status: "success", ...}`
or `{status: "error", code, message}`; no exception ever leaves (python-socketio
would send no ack at all). Names that are no command get `UNKNOWN_COMMAND`,
after the same charge.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import structlog
from pydantic import ValidationError

from logging_setup import get_logger
from websocket import audit
from websocket.protocol.commands import COMMANDS, Command
from websocket.protocol.errors import ErrorCode, WebSocketError
from websocket.protocol.paths import NAMESPACE
from websocket.server.connections import Connection, ConnectionRegistry
from websocket.server.rate_limit import CommandRateLimit
from websocket.server.sio import EventServer

log = get_logger("websocket.server.dispatch")

Ack = dict[str, Any]
CommandFn = Callable[[Connection, Any], Awaitable[Ack]]


def check_table(implementations: Mapping[str, object]) -> None:
    """Refuse implementations that are not exactly the protocol's commands."""
    missing = sorted(set(COMMANDS) - set(implementations))
    extra = sorted(set(implementations) - set(COMMANDS))
    if missing or extra:
        raise ValueError(
            f"command implementations do not match websocket/protocol/commands.py COMMANDS: "
            f"missing {missing}, not in the protocol {extra}"
        )


def _first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error["loc"])
    return f"{where}: {error['msg']}" if where else str(error["msg"])


class Dispatcher:
    def __init__(
        self, registry: ConnectionRegistry, rate: CommandRateLimit, implementations: Mapping[str, CommandFn]
    ) -> None:
        check_table(implementations)
        self.registry = registry
        self.rate = rate
        self.commands: dict[str, tuple[type[Command], CommandFn]] = {
            name: (model, implementations[name]) for name, (model, _ack) in COMMANDS.items()
        }

    def register(self, sio: EventServer) -> None:
        for name, command in self.commands.items():
            sio.on(name, self._handler(name, command), namespace=NAMESPACE)
        sio.on("*", self.unknown_command, namespace=NAMESPACE)

    def _handler(self, name: str, command: tuple[type[Command], CommandFn]) -> Callable[..., Awaitable[Ack]]:
        async def handler(sid: str, *args: Any) -> Ack:
            return await self._run(name, sid, args, command)

        handler.__name__ = f"command_{name}"
        return handler

    async def unknown_command(self, event: Any, sid: str, *args: Any) -> Ack:
        name = event if isinstance(event, str) else repr(event)
        return await self._run(name[:64], sid, args, None)

    async def _run(
        self, name: str, sid: str, args: tuple[Any, ...], command: tuple[type[Command], CommandFn] | None
    ) -> Ack:
        """Every command: rate limit, validate, run; always an ack, never an exception."""
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(command=name, connection_id=sid)
        conn = self.registry.get(sid)
        if conn is None:
            # Received just before the connection ended (the server closed it, say):
            # nobody is left to answer or to audit.
            log.debug("command_after_disconnect")
            return WebSocketError("Connection is not established", ErrorCode.AUTH_REQUIRED).to_ack()
        try:
            structlog.contextvars.bind_contextvars(user_id=conn.user.id, client_addr=conn.client_addr)
            self.rate.charge(conn)
            if command is None:
                raise WebSocketError(f"Unknown command {name!r}", ErrorCode.UNKNOWN_COMMAND)
            model, fn = command
            return await fn(conn, _parse(model, args))
        except WebSocketError as exc:
            audit.denied(
                "command_refused", exc.code, client_addr=conn.client_addr, user_id=conn.user.id,
                reason=exc.message,
            )  # fmt: skip
            return exc.to_ack()
        except Exception:
            log.exception("command_failed")
            return WebSocketError("Internal error", ErrorCode.INTERNAL_ERROR).to_ack()


def _parse(model: type[Command], args: tuple[Any, ...]) -> Command:
    """The command's one argument, a JSON object valid for its model (none: `{}`)."""
    if len(args) > 1:
        raise WebSocketError("Send one JSON object as the payload", ErrorCode.INVALID_PAYLOAD)
    payload = args[0] if args else {}
    if not isinstance(payload, dict):
        raise WebSocketError("Payload must be a JSON object", ErrorCode.INVALID_PAYLOAD)
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        raise WebSocketError(_first_error(exc), ErrorCode.INVALID_PAYLOAD) from None
