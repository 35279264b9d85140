"""`python -m cli` as a user runs it: a child process against a real server."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import uuid
from dataclasses import dataclass

import pytest
from jsonschema import Draft202012Validator

from cli import main as cli
from contract import jsonschemas
from events.broadcaster import get_broadcaster
from tests.conftest import ClientFactory
from tests.support import servers
from tests.support.clients import Client
from tests.support.net import free_port
from tests.support.servers import API_DIR, LiveServer, ServerProcess
from tests.support.tokens import SECRET, token
from websocket.access.tokens import TokenValidator

YELLOW = "\033[33m"


@dataclass
class Result:
    code: int
    out: str
    err: str


def cli_env(**overrides: str) -> dict[str, str]:
    return {**os.environ, **servers.test_env(), "NO_COLOR": "", **overrides}


async def run_cli(*args: str, **env: str) -> Result:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "cli", *args, cwd=API_DIR, env=cli_env(**env),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode is not None
    return Result(proc.returncode, out.decode(), err.decode())


class TailProcess:
    def __init__(self, *args: str) -> None:
        self.args = args
        self.proc: asyncio.subprocess.Process | None = None
        self.notes: list[str] = []

    async def start(self) -> TailProcess:
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "cli", "tail", *self.args, cwd=API_DIR, env=cli_env(),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        return self

    async def wait_note(self, text: str, timeout: float = 15) -> None:
        """Read stderr until a line contains `text`."""
        assert self.proc is not None and self.proc.stderr is not None
        while not any(text in note for note in self.notes):
            line = await asyncio.wait_for(self.proc.stderr.readline(), timeout)
            assert line, f"tail exited before {text!r}: {self.notes}"
            self.notes.append(line.decode().rstrip())

    async def finish(self) -> tuple[int, list[str]]:
        assert self.proc is not None and self.proc.stdout is not None
        out = await asyncio.wait_for(self.proc.stdout.read(), 15)
        code = await asyncio.wait_for(self.proc.wait(), 15)
        return code, out.decode().splitlines()

    def kill(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.kill()


async def test_token_mints_what_the_server_accepts(connect: ClientFactory) -> None:
    result = await run_cli("token", "--sub", "cli-user", "--role", "admin", "--scope", "workflows:read")
    assert result.code == 0, result.err
    minted = result.out.strip()
    principal = TokenValidator(SECRET).validate(minted)
    assert (principal.id, principal.role, principal.scopes) == (
        "cli-user",
        "admin",
        frozenset({"workflows:read"}),
    )
    client = await connect(minted)
    assert (await client.wait_for("connection.established"))["data"]["user_id"] == "cli-user"


async def test_token_follows_the_servers_token_rules() -> None:
    """JWT_AUDIENCE and JWT_ISSUER are signed in; a --ttl beyond JWT_MAX_LIFETIME is refused up front."""
    env = {"JWT_AUDIENCE": "eventserver", "JWT_ISSUER": "https://id.example", "JWT_MAX_LIFETIME": "7200"}
    result = await run_cli("token", "--ttl", "7200", **env)
    assert result.code == 0, result.err
    strict = TokenValidator(SECRET, audience="eventserver", issuer="https://id.example", max_lifetime=7200)
    assert strict.validate(result.out.strip()).id == "dev-user"
    longer = await run_cli("token", "--ttl", "7201", **env)
    assert longer.code == 2 and longer.out == ""
    assert "JWT_MAX_LIFETIME" in longer.err and "Traceback" not in longer.err


async def test_token_without_a_secret_explains_what_to_do() -> None:
    result = await run_cli("token", JWT_SECRET_KEY="")
    assert result.code == 2
    assert result.out == ""
    assert "JWT_SECRET_KEY is not set" in result.err and "/ws/dev-token" in result.err
    assert "Traceback" not in result.err


async def test_tail_prints_coloured_events_one_per_line(server: LiveServer) -> None:
    workflow_id = uuid.uuid4()
    # No --token: tail takes the development server's own token.
    tail = await TailProcess(
        "--url", server.url, "--room", f"workflow:{workflow_id}", "--count", "2", "--color", "always"
    ).start()
    try:
        await tail.wait_note(f"subscribed to workflow:{workflow_id}")
        for percent in (40, 80):
            await get_broadcaster().broadcast_workflow_progress(
                workflow_id=workflow_id, progress=percent, current_step="Running tests"
            )
        code, lines = await tail.finish()
    finally:
        tail.kill()
    assert code == 0
    # --count counts events: the server's greeting is connection news, said on stderr.
    assert len(lines) == 2, lines
    assert any(note.startswith(f"connected to {server.url}") for note in tail.notes)
    for line, percent in zip(lines, (40, 80), strict=True):
        assert f"{YELLOW}workflow.progress" in line
        assert f"workflow:{workflow_id}" in line and f'"progress": {percent}' in line


CUT = "Tidewater \ud83d"  # a JavaScript string cut inside an emoji (see jsonlib)


async def test_tail_json_lines_are_envelopes(server: LiveServer) -> None:
    project_id = uuid.uuid4()
    tail = await TailProcess(
        "--url", server.url, "--token", token("tail-json"), "--room", f"project:{project_id}",
        "--json", "--count", "1",
    ).start()  # fmt: skip
    try:
        await tail.wait_note(f"subscribed to project:{project_id}")
        await get_broadcaster().broadcast_project_deleted(
            project_id=project_id, project_name=CUT, deleted_by="tail-json"
        )
        code, lines = await tail.finish()
    finally:
        tail.kill()
    assert code == 0
    validator = Draft202012Validator(jsonschemas.document())
    events = [json.loads(line) for line in lines]
    for event in events:
        validator.validate(event)
    assert [e["type"] for e in events] == ["project.deleted"]
    assert events[0]["data"]["project_name"] == CUT  # printed escaped, read back the same
    assert "\033[" not in "".join(lines)


async def test_tail_reports_a_refused_token_and_a_forbidden_room(server: LiveServer) -> None:
    refused = await TailProcess("--url", server.url, "--token", "not-a-token").start()
    code, lines = await refused.finish()
    await refused.wait_note("refused: AUTH_INVALID")
    assert code == 1 and lines == []

    forbidden = await TailProcess(
        "--url", server.url, "--token", token("nosy"), "--room", "user:someone-else"
    ).start()
    code, _ = await forbidden.finish()
    await forbidden.wait_note("subscribe user:someone-else: FORBIDDEN")
    assert code == 1


async def test_emit_publishes_through_get_broadcaster(
    connect: ClientFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    """In the server's process `emit` reaches clients; elsewhere it needs Redis (next test)."""
    workflow_id = uuid.uuid4()
    client = await connect(token("emit-watcher"))
    await client.subscribe(f"workflow:{workflow_id}")
    code = await cli.run(
        ["emit", "workflow.progress", "--set", f"workflow_id={workflow_id}", "--set", "progress=40",
         "--data", '{"project_id": null, "current_step": "Deploying"}']
    )  # fmt: skip
    assert code == 0
    event = await client.wait_for("workflow.progress")
    assert event["data"]["progress"] == 40 and event["data"]["current_step"] == "Deploying"
    # The server's own log shares this process's stdout: pick the command's JSON line.
    printed = next(
        json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith('{"type"')
    )
    assert printed["rooms"] == [f"workflow:{workflow_id}"]


async def test_emit_from_another_process_goes_through_redis(redis_url: str, unique_channel: str) -> None:
    server = ServerProcess(
        redis_url=redis_url, socketio_channel=unique_channel, redis_key_prefix=unique_channel
    )
    await server.start()
    project_id = uuid.uuid4()
    client = await Client().connect(server.url, token("emit-redis", scopes=["projects:read"]))
    try:
        await client.subscribe(f"project:{project_id}")
        result = await run_cli(
            "emit", "project.updated", "--set", f"project_id={project_id}", "--set", "status=archived",
            REDIS_URL=redis_url, SOCKETIO_CHANNEL=unique_channel, REDIS_KEY_PREFIX=unique_channel,
            ENVIRONMENT="production", JWT_SECRET_KEY="",  # a publisher needs no server settings
        )  # fmt: skip
        assert result.code == 0, result.err
        event = await client.wait_for("project.updated")
        assert event["data"]["status"] == "archived"
        assert "Unclosed" not in result.err and "Traceback" not in result.err
    finally:
        await client.close()
        await server.stop()


@pytest.mark.parametrize(
    ("secret", "source"),
    [("", "with the development token"), (SECRET, "with a token signed with JWT_SECRET_KEY")],
)
async def test_emit_without_redis_publishes_through_the_running_servers_api(
    server: LiveServer, connect: ClientFactory, secret: str, source: str
) -> None:
    """The embedded default: no REDIS_URL, so `emit` uses POST /api/events of the server at HOST:PORT."""
    project_id = uuid.uuid4()
    client = await connect(token("emit-http", scopes=["projects:read"]))
    await client.subscribe(f"project:{project_id}")
    result = await run_cli(
        "emit", "project.updated", "--set", f"project_id={project_id}", "--set", "status=archived",
        HOST="127.0.0.1", PORT=str(server.port), JWT_SECRET_KEY=secret,
    )  # fmt: skip
    assert result.code == 0, result.err
    event = await client.wait_for("project.updated")
    assert event["data"]["status"] == "archived"
    assert json.loads(result.out)["rooms"] == [f"project:{project_id}"]
    # Which path it took, on one line of stderr, with the id clients received.
    [said] = result.err.splitlines()
    assert said.startswith(f"emit: published through POST {server.url}/api/events {source}"), said
    assert said.endswith(f"event id {event['id']}")


async def test_emit_without_redis_and_without_a_server_says_so_in_one_line() -> None:
    result = await run_cli("emit", "project.updated", "--url", f"http://127.0.0.1:{free_port()}")
    assert result.code == 1
    [said] = result.err.splitlines()
    assert said.startswith("error: cannot reach the server at http://127.0.0.1:") and "make run" in said


async def test_emit_to_chosen_rooms_needs_redis() -> None:
    result = await run_cli("emit", "project.updated", "--room", "global")
    assert result.code == 2 and result.out == ""
    assert result.err.startswith("error: --room needs REDIS_URL") and result.err.count("\n") == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["emit", "workflow.progress", "--set", "progress=400"],
            "progress: Input should be less than or equal",
        ),
        (["emit", "workflow.progress", "--data", "[1]"], "--data must be a JSON object"),
        (["emit", "workflow.progress", "--data", "{"], "--data is not JSON"),
        (["emit", "workflow.progress", "--set", "progress"], "expected FIELD=VALUE"),
        (["emit", "no.such.event"], "invalid choice"),
        (["emit", "agent.connected"], "invalid choice"),  # server-owned
        (["emit", "server.shutdown"], "invalid choice"),
        (["emit", "project.updated", "--no-such-option"], "unrecognized arguments: --no-such-option"),
        (["tail", "--count", "many"], "argument --count: invalid int value"),
        (["teleport"], "invalid choice: 'teleport'"),
        ([], "the following arguments are required: command"),
    ],
)
async def test_bad_arguments_are_reported_in_one_line(args: list[str], message: str) -> None:
    """Ours and argparse's alike: one line on stderr (no usage block), exit status 2."""
    result = await run_cli(*args)
    assert result.code == 2 and result.out == ""
    assert message in result.err and "Traceback" not in result.err
    assert result.err.startswith("error: ") and result.err.count("\n") == 1, result.err
