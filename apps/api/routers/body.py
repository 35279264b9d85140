"""Reading a request body with a ceiling, so one client cannot fill the server's memory.

Starlette reads a body whole and has no limit of its own. `limited_route()`
takes FastAPI's documented way to change how a route's body is read (a custom
`APIRoute` handing its handler a custom `Request`): the body is read within the
limit first, and the handler gets a `Request` that replays it. `read_body` is
the same for handlers that read the body themselves.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

from fastapi import HTTPException, Request, Response
from fastapi.routing import APIRoute
from starlette.requests import ClientDisconnect
from starlette.types import Message

from logging_setup import get_logger

log = get_logger("routers.body")


def too_large(limit: int) -> HTTPException:
    return HTTPException(
        status_code=413,
        detail={"code": "PAYLOAD_TOO_LARGE", "message": f"request body is larger than {limit} bytes"},
    )


def refuse_declared_over(request: Request, limit: int) -> None:
    """413 before reading, when `Content-Length` already says the body is over `limit` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large(limit)


def incomplete() -> HTTPException:
    # Nobody reads this answer; it makes the handler log a refusal (warning) and not an error.
    return HTTPException(
        status_code=400,
        detail={"code": "INCOMPLETE_BODY", "message": "the connection closed before the whole body arrived"},
    )


async def chunks_within(request: Request, limit: int) -> AsyncIterator[bytes]:
    """The body as it arrives (uvicorn hands on ~64 KiB at a time), or 413 once it passes `limit`.

    A client that goes away mid-body is the client's doing: 400 `INCOMPLETE_BODY`,
    not Starlette's ClientDisconnect escaping as a server error with a traceback.
    """
    refuse_declared_over(request, limit)
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise too_large(limit)
            yield chunk
    except ClientDisconnect:
        log.info("request_body_incomplete", path=request.url.path, received=size)
        raise incomplete() from None


async def read_body(request: Request, limit: int) -> bytes:
    """The whole body, or 413 as soon as it grows past `limit` bytes."""
    return b"".join([chunk async for chunk in chunks_within(request, limit)])


def replaying(request: Request, body: bytes) -> Request:
    """The same request (its scope), whose body reads as `body`; later receives are the client's."""
    replayed = False

    async def receive() -> Message:
        nonlocal replayed
        if replayed:
            return await request.receive()  # `http.disconnect`, for a handler that asks
        replayed = True
        return {"type": "http.request", "body": body, "more_body": False}

    return Request(request.scope, receive)


def limited_route(limit: int) -> type[APIRoute]:
    """An APIRoute class whose routes refuse bodies over `limit` bytes with 413."""

    class LimitedRoute(APIRoute):
        def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
            handler = super().get_route_handler()

            async def limited(request: Request) -> Response:
                # Read (bounded), then hand FastAPI a request whose body is what was read.
                return await handler(replaying(request, await read_body(request, limit)))

            return limited

    return LimitedRoute
