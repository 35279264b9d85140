"""`POST /api/events`: publishing for services that are not Python.

A Node service, a shell script or another team's backend sends one event
`{type, data}` or a JSON array of up to 100, validated against the same
payload models as `broadcast_*` and published through the same broadcaster.
All or nothing: if any item is invalid, none is published and the answer
lists every problem with the index of its item.

Allowed for tokens with scope `events:publish` or role `service` or `admin`,
at most `PUBLISH_RATE` events per second per publisher (`routers.publish_limit`).
An optional `idempotency_key` per event makes retries safe: a repeat within
the dedupe window is answered with the first event's id and not broadcast again.
Keys belong to their publisher, stored as `api:<length of sub>:<sub>:<key>`: a
`sub` may contain `:`, and without the length `a` + `b:c` would be `a:b` + `c`.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Sequence
from typing import TYPE_CHECKING, Annotated, Any, Literal, Union

from fastapi import APIRouter, Body, Depends, HTTPException, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, create_model

from config import PUBLISH_MAX_BATCH
from events.broadcaster import get_broadcaster
from logging_setup import get_logger
from routers.auth import CurrentUser
from routers.body import limited_route
from routers.publish_limit import Refusal
from websocket import audit
from websocket.access.tokens import Principal
from websocket.protocol.catalog import PAYLOAD_MODELS, PUBLISHABLE_EVENTS, SERVER_OWNED_EVENTS
from websocket.protocol.errors import ErrorCode
from websocket.protocol.event_types import EventType

log = get_logger("routers.publish")

MAX_BATCH = PUBLISH_MAX_BATCH
MAX_BODY = 1024 * 1024
PUBLISH_SCOPE = "events:publish"
PUBLISHER_ROLES = frozenset({"service", "admin"})
PUBLISHABLE = list(PUBLISHABLE_EVENTS)


def _item_model(event_type: EventType) -> type[BaseModel]:
    payload = PAYLOAD_MODELS[event_type]
    return create_model(
        f"Publish{payload.__name__}",
        __config__=ConfigDict(extra="forbid"),
        __doc__=f"Publish `{event_type.value}`.",
        type=(Literal[event_type.value], ...),  # type: ignore[arg-type]
        data=(payload, ...),
        idempotency_key=(str | None, Field(default=None, min_length=1, max_length=200)),
    )


ITEM_MODELS = [_item_model(event_type) for event_type in PUBLISHABLE]


def _shape(value: Any) -> str | None:
    return "batch" if isinstance(value, list) else "single" if isinstance(value, dict) else None


if TYPE_CHECKING:  # the models are built at run time, one per event type
    PublishBody = Any
else:
    PublishItem = Annotated[Union[tuple(ITEM_MODELS)], Field(discriminator="type")]  # noqa: UP007
    PublishBody = Annotated[
        Annotated[PublishItem, Tag("single")]
        | Annotated[list[PublishItem], Tag("batch"), Field(min_length=1, max_length=MAX_BATCH)],
        Discriminator(
            _shape,
            custom_error_type="invalid_body",
            custom_error_message="body must be one event object or an array of events",
        ),
    ]


class PublishedEvent(BaseModel):
    id: str = Field(description="The event id clients receive (the first event's id for a repeated key)")
    type: EventType
    rooms: list[str]
    delivered: bool = Field(description="Handed to the delivery layer")
    duplicate: bool = Field(description="A repeat of an idempotency key: not broadcast again")


class Published(BaseModel):
    events: list[PublishedEvent]


def _publisher(user: CurrentUser, request: Request) -> Principal:
    if user.role in PUBLISHER_ROLES or user.has_scope(PUBLISH_SCOPE):
        return user
    message = f"publishing needs scope {PUBLISH_SCOPE} or role service/admin"
    audit.denied(
        "http_refused", ErrorCode.FORBIDDEN, client_addr=audit.client_of(request),
        user_id=user.id, path=request.url.path, reason=message,
    )  # fmt: skip
    raise HTTPException(status_code=403, detail={"code": ErrorCode.FORBIDDEN.value, "message": message})


def item_errors(errors: Sequence[Any]) -> list[dict[str, Any]]:
    """FastAPI's validation errors as `{index, type, field, message}`, one per problem."""
    out = []
    for error in errors:
        loc = list(error["loc"])[1:]  # drop "body"
        index: int | None = None
        if loc[:1] == ["single"]:
            index, loc = 0, loc[1:]
        elif loc[:1] == ["batch"]:
            loc = loc[1:]
            if loc and isinstance(loc[0], int):
                index, loc = loc[0], loc[1:]
        event_type = loc.pop(0) if loc and loc[0] in PAYLOAD_MODELS else None
        message = str(error["msg"])
        tag = (error.get("ctx") or {}).get("tag")
        if error["type"] == "union_tag_invalid" and tag in SERVER_OWNED_EVENTS:
            message = f"{tag} is sent by the server itself and cannot be published"
        if error["type"] == "union_tag_not_found":
            loc, message = ["type"], "type is missing (the event type, e.g. project.updated)"
        if error["type"] == "json_invalid":
            loc, message = [], f"body is not valid JSON ({error['ctx']['error']})"
        if error["type"] == "missing" and not loc and index is None:
            message = f"body is required: one event object or an array of up to {MAX_BATCH}"
        field = ".".join(str(part) for part in loc) or None
        out.append({"index": index, "type": event_type, "field": field, "message": message})
    return out


def idempotency_key(publisher: str, key: str) -> str:
    """The dedupe key of a publisher's idempotency key; length-prefixed, so no two pairs meet."""
    return f"api:{len(publisher)}:{publisher}:{key}"


def _rate_limited(request: Request, user: Principal, refusal: Refusal, events: int) -> JSONResponse:
    if refusal.report:
        client = audit.client_of(request)
        audit.denied(
            "events_publish_rate_limited", ErrorCode.RATE_LIMITED, client_addr=client, user_id=user.id,
            refused=refusal.report, status=429,
        )  # fmt: skip
    limiter = request.app.state.publish_limiter
    message = (
        f"more than {limiter.rate:g} events per second (bursts of {limiter.burst}) from this publisher; "
        f"nothing of these {events} was published, retry in {refusal.retry_after} s"
    )
    detail = {"code": ErrorCode.RATE_LIMITED.value, "message": message, "retryable": True}
    return JSONResponse({"detail": detail}, 429, headers={"Retry-After": str(refusal.retry_after)})


class PublishRoute(limited_route(MAX_BODY)):  # type: ignore[misc]
    """Bounded body; validation errors become 400 with per-item detail instead of FastAPI's 422."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def validated(request: Request) -> Response:
            try:
                response: Response = await handler(request)
                return response
            except RequestValidationError as exc:
                errors = item_errors(exc.errors())
                bad = len({e["index"] for e in errors})
                log.info("events_publish_refused", status=400, errors=len(errors))
                message = f"{bad} event(s) invalid; nothing was published"
                detail = {"code": "INVALID_EVENT", "message": message, "errors": errors}
                return JSONResponse({"detail": detail}, status_code=400)

        return validated


router = APIRouter(tags=["events"], route_class=PublishRoute)

RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"description": "`INVALID_EVENT`: `detail.errors` lists `{index, type, field, message}`"},
    401: {"description": "`AUTH_REQUIRED`, `AUTH_INVALID` or `AUTH_EXPIRED`"},
    403: {"description": "`FORBIDDEN`: the token lacks scope events:publish (or role service/admin)"},
    413: {"description": "`PAYLOAD_TOO_LARGE`: body over 1 MiB"},
    429: {"description": "`RATE_LIMITED` (`retryable: true`): over PUBLISH_RATE; see `Retry-After`"},
    503: {"description": "`DELIVERY_FAILED`: `detail.events` says which were not delivered; retry those"},
}


@router.post(
    "/api/events",
    status_code=202,
    response_model=Published,
    responses=RESPONSES,
    summary="Publish one event or a batch of up to 100",
)
async def publish_events(
    body: Annotated[
        PublishBody, Body(title="Events", description=f"One event or an array of 1 to {MAX_BATCH}")
    ],
    user: Annotated[Principal, Depends(_publisher)],
    request: Request,
) -> Published | JSONResponse:
    items: list[Any] = body if isinstance(body, list) else [body]
    refusal = request.app.state.publish_limiter.charge(user.id, len(items))
    if refusal is not None:
        return _rate_limited(request, user, refusal, len(items))
    # One call for the batch, in order: events to one room arrive in the order they were published.
    results = await get_broadcaster().publish_many(
        [item.data for item in items],
        idempotency_keys=[
            idempotency_key(user.id, item.idempotency_key) if item.idempotency_key else None for item in items
        ],
    )
    published = [
        PublishedEvent(
            id=result.event_id,
            type=item.data.event_type,
            rooms=list(result.rooms),
            delivered=result.ok,
            duplicate=result.duplicate,
        )
        for item, result in zip(items, results, strict=True)
    ]
    failed = sum(not event.delivered for event in published)
    log.info("events_published", user_id=user.id, count=len(published), failed=failed)
    if failed:
        detail = {
            "code": "DELIVERY_FAILED",
            "message": f"{failed} of {len(published)} event(s) could not be broadcast; retry them",
            "events": [event.model_dump(mode="json") for event in published],
        }
        return JSONResponse({"detail": detail}, status_code=503)
    return Published(events=published)
