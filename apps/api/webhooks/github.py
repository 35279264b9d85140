"""`POST /webhooks/github`: GitHub deliveries in, `pr.*` and `issue.*` events out.

Order of checks, each answering before the next runs: a secret must be
configured (503), `X-Hub-Signature-256` must be there and well formed (401,
before the body is read), the body must fit (413) and match the signature
(401; it streams through the HMAC, see `webhooks.signed_body`), the delivery
must name its event and id (400), the body must be JSON (400). Then `ping` is
answered, unhandled event types are acknowledged and ignored (202), the
repository is resolved to a project (202 when it is not ours), the payload is
mapped (400 when it lacks a field) and the event is published once per
`X-GitHub-Delivery` and once per body within the dedupe window (a repeat of
either is answered 200 `duplicate`). GitHub signs the body, not the delivery
id: without the body key, a captured delivery replayed under a new id would
be broadcast again. One log line per delivery says what happened.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, cast
from urllib.parse import parse_qs

import structlog
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from config import Settings
from events.broadcaster import get_broadcaster
from logging_setup import get_logger
from webhooks.github_events import HANDLED_EVENTS, MappingError, to_event
from webhooks.projects import get_project_resolver
from webhooks.signed_body import read_signed
from websocket import audit

log = get_logger("webhooks.github")
router = APIRouter(tags=["webhooks"])

PATH = "/webhooks/github"
# GitHub caps webhook payloads at 25 MB (and does not send larger ones); 25 MiB is above that.
MAX_BODY = 25 * 1024 * 1024
NOT_CONFIGURED = "GITHUB_WEBHOOK_SECRET is not set on this server, so every delivery is refused"

_ERROR = {"content": {"application/json": {"example": {"detail": {"code": "…", "message": "…"}}}}}
RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "`ping` answered, event broadcast, or a repeat acknowledged (`duplicate`)"},
    202: {"description": "Acknowledged and ignored: event type not handled, or repository not ours"},
    400: {"description": "`INVALID_PAYLOAD`: a header missing, body not JSON, a field missing", **_ERROR},
    401: {"description": "`INVALID_SIGNATURE`: X-Hub-Signature-256 missing or wrong", **_ERROR},
    413: {"description": "`PAYLOAD_TOO_LARGE`: body over 25 MiB", **_ERROR},
    503: {"description": "`WEBHOOK_NOT_CONFIGURED` or `DELIVERY_FAILED` (redeliver later)", **_ERROR},
}


def _refuse(status: int, code: str, message: str) -> HTTPException:
    return HTTPException(status_code=status, detail={"code": code, "message": message})


def log_configuration(settings: Settings) -> None:
    """Say at start-up when webhooks cannot work, and why.

    A warning, once, in every environment: the webhook is optional, so a
    server without its secret is configured, not faulty (operators alert on
    `error`).
    """
    if settings.webhook_secret is not None:
        resolver = get_project_resolver()
        name = getattr(resolver, "__qualname__", type(resolver).__qualname__)
        log.info("github_webhooks_ready", path=PATH, resolver=f"{resolver.__module__}:{name}")
        return
    log.warning("github_webhooks_refused", reason=NOT_CONFIGURED, path=PATH, fix="set GITHUB_WEBHOOK_SECRET")


def _parse(body: bytes | bytearray, content_type: str) -> Mapping[str, Any]:
    """The delivery's JSON; GitHub's form encoding (payload=<json>) is accepted too."""
    if content_type.startswith("application/x-www-form-urlencoded"):
        fields = parse_qs(body.decode("utf-8", "replace"))
        body = fields.get("payload", [""])[0].encode()
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise _refuse(400, "INVALID_PAYLOAD", "body is not valid JSON") from None
    if not isinstance(payload, dict):
        raise _refuse(400, "INVALID_PAYLOAD", "body must be a JSON object")
    return payload


async def _handle(request: Request, github_event: str, delivery: str) -> tuple[int, dict[str, Any]]:
    secret: bytes | None = request.app.state.settings.webhook_secret
    if secret is None:
        raise _refuse(503, "WEBHOOK_NOT_CONFIGURED", NOT_CONFIGURED)
    signed = await read_signed(request, secret, MAX_BODY)
    if not github_event or not delivery:
        raise _refuse(400, "INVALID_PAYLOAD", "X-GitHub-Event and X-GitHub-Delivery headers are required")
    payload = _parse(signed.body, request.headers.get("content-type", ""))
    digest = signed.digest
    del signed  # from here on the parsed payload is all that is needed: free the raw body
    if github_event == "ping":
        return 200, {"status": "pong", "zen": payload.get("zen")}
    if github_event not in HANDLED_EVENTS:
        return 202, {"status": "ignored", "reason": f"event {github_event!r} is not handled"}
    repository = payload.get("repository")
    if not isinstance(repository, Mapping):
        raise _refuse(400, "INVALID_PAYLOAD", "repository is missing")
    try:
        project_id = await get_project_resolver()(repository)
        if project_id is None:
            return 202, {"status": "ignored", "reason": "repository does not belong to a project"}
        event = to_event(github_event, payload, project_id)
    except MappingError as exc:
        raise _refuse(400, "INVALID_PAYLOAD", str(exc)) from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise _refuse(400, "INVALID_PAYLOAD", f"{where}: {first['msg']}") from None
    result = await get_broadcaster().publish_result(
        event, idempotency_key=f"github-delivery:{delivery}", also_once_per=[f"github-body:{digest}"]
    )
    answer = {"event": event.event_type.value, "event_id": result.event_id, "rooms": list(result.rooms)}
    if result.duplicate:
        return 200, {"status": "duplicate", **answer}
    if not result.ok:
        raise _refuse(503, "DELIVERY_FAILED", "the event could not be broadcast; redeliver later")
    return 200, {"status": "broadcast", **answer}


@router.post(PATH, responses=RESPONSES, summary="Receive a GitHub webhook delivery")
async def github_webhook(request: Request) -> JSONResponse:
    github_event = request.headers.get("X-GitHub-Event", "")
    delivery = request.headers.get("X-GitHub-Delivery", "")
    structlog.contextvars.clear_contextvars()
    # Logged before the signature is checked: bounded, as anyone can send these headers.
    structlog.contextvars.bind_contextvars(github_event=github_event[:64], delivery=delivery[:64])
    try:
        status, body = await _handle(request, github_event, delivery)
    except HTTPException as exc:
        detail = cast(dict[str, str], exc.detail)  # always {code, message} here
        if detail["code"] == "DELIVERY_FAILED":  # ours (the event bus), not the sender's
            log.warning("github_webhook", status=exc.status_code, outcome="refused", **detail)
        else:  # the sender's: one audit line (summarised when repeated), as every refusal
            audit.denied(
                "github_webhook_refused", detail["code"], client_addr=audit.client_of(request),
                status=exc.status_code, reason=detail["message"],  # github_event, delivery: bound above
            )  # fmt: skip
        raise
    except Exception:  # a resolver of the host application failed: its bug, logged with its trace
        log.exception("github_webhook", status=500, outcome="error")
        return JSONResponse(
            {"detail": {"code": "INTERNAL_ERROR", "message": "the delivery could not be processed"}}, 500
        )
    log.info(
        "github_webhook",
        status=status,
        outcome=body["status"],
        event_type=body.get("event"),
        event_id=body.get("event_id"),
        reason=body.get("reason"),
    )
    return JSONResponse(body, status)
