"""Command line for developers: `python -m cli {token,emit,tail}` (run in apps/api).

    token  mint an access token signed with JWT_SECRET_KEY
    emit   broadcast an event (the sample of its type, with your changes)
    tail   connect to a server, subscribe to rooms, print events as they arrive

Settings come from the environment and apps/api/.env, as for the server, and
everything runs on requirements.txt alone (the environment of `make run`).
`emit` publishes through Redis when REDIS_URL is set, otherwise through the
running server's `POST /api/events`, and says which on stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from pydantic import ValidationError

from cli import server_http
from config import SettingsError, get_publisher_settings, load_settings
from contract.samples import sample_payload
from events.broadcaster import get_broadcaster
from logging_setup import configure_logging
from websocket.access.tokens import DEV_SCOPES, mint_token
from websocket.protocol.catalog import PUBLISHABLE_EVENTS
from websocket.protocol.event_types import EventType, Payload

EMITTABLE = [t.value for t in PUBLISHABLE_EVENTS]
MISSING_KEY_HELP = """\
error: JWT_SECRET_KEY is not set, so there is nothing to sign a token with.
A server without it signs with a throw-away secret of its own, which no other
process knows. Either set the same JWT_SECRET_KEY for the server and this
command (environment or apps/api/.env), or take the running development
server's token: export TOKEN=$(curl -s localhost:8000/ws/dev-token.txt)"""
NOT_ACCEPTED = "error: the event was not delivered: Redis at REDIS_URL did not take it (see the log above)."
NOT_DELIVERED_HTTP = "error: the event was not delivered: the server could not hand it on (DELIVERY_FAILED)"
ROOMS_NEED_REDIS = (
    "--room needs REDIS_URL: POST /api/events (used without it) sends each event to the rooms its type "
    "routes it to"
)


class UsageError(Exception):
    """Bad arguments: reported on one line, exit status 2."""


class OneLineParser(argparse.ArgumentParser):
    """argparse, with its errors on one line (no usage block) and exit status 2, like ours."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {self.prog}: {message} (see {self.prog} --help)\n")


def _parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="python -m cli", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)

    token = commands.add_parser("token", help="mint a development access token (printed alone on stdout)")
    token.add_argument("--sub", default="dev-user", help="user id (default: dev-user)")
    token.add_argument("--email", help="default: <sub>@localhost")
    token.add_argument("--role", default="user", help="user or admin (default: user)")
    token.add_argument(
        "--scope", action="append", dest="scopes", help=f"repeatable (default: {' '.join(DEV_SCOPES)})"
    )
    token.add_argument("--ttl", type=float, default=3600, help="seconds until it expires (default: 3600)")

    emit = commands.add_parser("emit", help="broadcast an event through get_broadcaster()")
    emit.add_argument(
        "type", nargs="?", choices=EMITTABLE, metavar="TYPE", help="event type, e.g. workflow.progress"
    )
    emit.add_argument("--list", action="store_true", help="list the event types and their sample payloads")
    emit.add_argument("--data", default="{}", help="JSON object of fields to change in the sample")
    emit.add_argument(
        "--set", action="append", default=[], metavar="FIELD=VALUE", help="change one field (repeatable)"
    )
    emit.add_argument(
        "--room", action="append", dest="rooms", help="send to these rooms instead (repeatable, REDIS_URL)"
    )
    emit.add_argument(
        "--url", help="without REDIS_URL: the server to POST /api/events to (default: from HOST and PORT)"
    )

    tail = commands.add_parser("tail", help="print events as they arrive, one per line")
    tail.add_argument("--url", help="server (default: from HOST and PORT, http://127.0.0.1:8000)")
    tail.add_argument("--token", help="access token (default: the server's development token)")
    tail.add_argument(
        "--room", action="append", dest="rooms", default=[], help="subscribe to this room (repeatable)"
    )
    tail.add_argument("--json", action="store_true", help="print each envelope as one JSON line")
    tail.add_argument("--color", choices=["auto", "always", "never"], default="auto")
    tail.add_argument("--count", type=int, help="exit after printing this many room events")
    return parser


def _value(text: str) -> Any:
    """--set progress=40 gives 40; --set title=Hello gives "Hello"."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    try:
        overrides = json.loads(args.data)
    except ValueError as exc:
        raise UsageError(f"--data is not JSON: {exc}") from None
    if not isinstance(overrides, dict):
        raise UsageError("--data must be a JSON object")
    for item in args.set:
        field, sep, text = item.partition("=")
        if not sep or not field:
            raise UsageError(f"--set {item!r}: expected FIELD=VALUE")
        overrides[field] = _value(text)
    return overrides


def cmd_token(args: argparse.Namespace) -> int:
    settings = load_settings()
    secret = settings.jwt_secret_key
    if secret is None or not secret.get_secret_value():
        print(MISSING_KEY_HELP, file=sys.stderr)
        return 2
    if not 0 < args.ttl <= settings.jwt_max_lifetime:
        raise UsageError(
            f"--ttl must be above 0 and at most JWT_MAX_LIFETIME ({settings.jwt_max_lifetime:g} s): "
            "the server refuses longer-lived tokens"
        )
    scopes = args.scopes if args.scopes is not None else list(DEV_SCOPES)
    email = args.email or f"{args.sub}@localhost"
    # The server checks aud and iss when it is configured with them: sign what it expects.
    claims = {"aud": settings.jwt_audience, "iss": settings.jwt_issuer}
    token = mint_token(
        secret.get_secret_value(),
        sub=args.sub,
        email=email,
        role=args.role,
        scopes=scopes,
        ttl_seconds=args.ttl,
        extra={name: value for name, value in claims.items() if value},
    )
    print(token)
    return 0


async def cmd_emit(args: argparse.Namespace) -> int:
    if args.list or args.type is None:
        for name in EMITTABLE:
            print(name, json.dumps(sample_payload(EventType(name)).model_dump(mode="json")))
        return 0
    try:
        payload = sample_payload(EventType(args.type), **_overrides(args))
    except ValidationError as exc:
        error = exc.errors()[0]
        raise UsageError(f"{'.'.join(map(str, error['loc']))}: {error['msg']}") from None
    broadcaster = get_broadcaster()
    if not broadcaster.attached and not get_publisher_settings().redis_url:
        return await _emit_over_http(args, payload)
    rooms = args.rooms or payload.target_rooms()
    print(json.dumps({"type": args.type, "rooms": rooms, "data": payload.model_dump(mode="json")}))
    try:
        delivered = await broadcaster.publish(payload, rooms=rooms)
    finally:
        if not broadcaster.attached:  # our own Redis publisher: close it; a server keeps its own
            await broadcaster.aclose()
    where = "this process's server" if broadcaster.attached else "Redis (REDIS_URL is set)"
    if not delivered:
        print(NOT_ACCEPTED, file=sys.stderr)
        return 1
    print(f"emit: published through {where}", file=sys.stderr)
    return 0


async def _emit_over_http(args: argparse.Namespace, payload: Payload) -> int:
    """No server here and no Redis: the running server's POST /api/events is the way in."""
    if args.rooms:
        raise UsageError(ROOMS_NEED_REDIS)
    settings = load_settings()
    url = args.url or server_http.server_url(settings)
    token = server_http.publisher_token(settings)
    source = "a token signed with JWT_SECRET_KEY"
    if token is None:
        token, source = await server_http.fetch_dev_token(url), "the development token"
    data = payload.model_dump(mode="json")
    print(json.dumps({"type": args.type, "rooms": payload.target_rooms(), "data": data}))
    published = await server_http.publish(url, token, {"type": args.type, "data": data})
    if not published.get("delivered"):
        print(NOT_DELIVERED_HTTP, file=sys.stderr)
        return 1
    print(
        f"emit: published through POST {url}{server_http.PUBLISH_PATH} with {source} "
        f"(REDIS_URL is not set), event id {published['id']}",
        file=sys.stderr,
    )
    return 0


async def cmd_tail(args: argparse.Namespace) -> int:
    from cli.tail import Tail  # the Socket.IO client: loaded only by the command that connects

    url = args.url or server_http.server_url(load_settings())
    token = args.token or await server_http.fetch_dev_token(url)
    colour = args.color == "always" or (args.color == "auto" and sys.stdout.isatty())
    return await Tail(url, token, args.rooms, as_json=args.json, colour=colour, count=args.count).run()


async def run(argv: Sequence[str]) -> int:
    """Run one command; the exit status. Errors are one line on stderr, never a traceback."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "token":
            return cmd_token(args)
        if args.command == "emit":
            return await cmd_emit(args)
        return await cmd_tail(args)
    except (UsageError, SettingsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


def main() -> None:
    configure_logging("WARNING", "console")
    try:
        raise SystemExit(asyncio.run(run(sys.argv[1:])))
    except KeyboardInterrupt:
        raise SystemExit(130) from None
    except BrokenPipeError:  # e.g. `... | head`: the reader has gone, so has our output
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - lets the interpreter exit quietly
        raise SystemExit(0) from None


if __name__ == "__main__":
    main()
