"""Adding an event type is its enum member, its model and its registration; generation does the rest."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from tests.support.servers import API_DIR, ROOT
from tests.support.typecheck import run_mypy
from websocket.protocol.catalog import PAYLOAD_MODELS
from websocket.protocol.event_types import EventType, Payload

GUIDE = (ROOT / "WEBSOCKET_INTEGRATION_GUIDE.md").read_text()


def test_the_enum_and_the_registered_models_agree() -> None:
    """`EventType` stays a hand-written list (mypy checks every `EventType.X`): it and
    `PAYLOAD_MODELS` must name the same types, each model under its own."""
    for event_type, model in PAYLOAD_MODELS.items():
        assert isinstance(model.event_type, EventType), (
            f"{model.__name__}.event_type is not an EventType member: add it to EventType in "
            "websocket/protocol/event_types.py and set `event_type = EventType.<NAME>`"
        )
        assert model.event_type is event_type, f"{model.__name__} is registered under {event_type.value}"
    unregistered = [t.value for t in EventType if t not in PAYLOAD_MODELS]
    assert not unregistered, (
        f"EventType members without a registered model: {unregistered}; write the model and add it to "
        "PAYLOAD_MODELS in websocket/protocol/catalog.py"
    )
    declared = [
        m for m in _subclasses(Payload) if "event_type" in vars(m) and m.__module__.startswith("websocket.")
    ]
    forgotten = [m.__name__ for m in declared if m not in PAYLOAD_MODELS.values()]
    assert not forgotten, f"models with an event_type but not in PAYLOAD_MODELS (catalog.py): {forgotten}"


def _subclasses(cls: type[Payload]) -> list[type[Payload]]:
    return [sub for child in cls.__subclasses__() for sub in (child, *_subclasses(child))]


def test_the_guide_says_how_to_add_one() -> None:
    assert "### Adding an event type" in GUIDE
    assert "make docs" in GUIDE.split("### Adding an event type")[1].split("\n#")[0]


# What a developer writes to add `deploy.finished`: one enum line, one model, one registration.
ENUM_LINE = '    DEPLOY_FINISHED = "deploy.finished"\n'
MODEL = '''

class DeployFinished(ProjectPayload):
    """A deployment of the project finished."""

    event_type = EventType.DEPLOY_FINISHED
    environment: Literal["staging", "production"]
    version: str
    notes: list[str] = Field(default_factory=list)
    deployed_by: ActorId | None = None
    example: ClassVar[JsonObject] = {"project_id": _PROJECT, "environment": "production", "version": "1.4.2"}
'''
CALLER = """\
from uuid import uuid4

from events.broadcast_methods import BroadcastMethods
from websocket.protocol.event_types import Payload


class Broadcaster(BroadcastMethods):
    async def publish(self, payload: Payload, *, idempotency_key: str | None = None) -> bool:
        print(type(payload).__name__, payload.target_rooms(), payload.model_dump_json())
        return True


async def checked(b: Broadcaster) -> None:
    await b.broadcast_deploy_finished(project_id=uuid4(), environment="staging", version="1", deployed_by=7)
    await b.broadcast_deploy_finished(project_id=uuid4(), enviroment="production", version="1")
    await b.broadcast_deploy_finished(project_id=uuid4(), environment="prod", version="1")
    reveal_type(b.broadcast_deploy_finished)
"""
EXPECTED = [
    'caller.py:15: error: Unexpected keyword argument "enviroment" for "broadcast_deploy_finished"',
    'caller.py:16: error: Argument "environment" to "broadcast_deploy_finished" of "BroadcastMethods" has '
    "incompatible type",
    'caller.py:17: note: Revealed type is "def (*, project_id: uuid.UUID | str, environment: '
    "Literal['staging'] | Literal['production'], version: str, notes: list[str] =, "
    "deployed_by: str | uuid.UUID | int | None =, idempotency_key: str | None =) -> "
    'typing.Coroutine[Any, Any, bool]"',
    "Found 2 errors in 1 file",
]


def _add(path: Path, anchor: str, addition: str) -> None:
    text = path.read_text()
    assert anchor in text, f"{path.name} no longer contains {anchor!r}: update this test's recipe"
    path.write_text(text.replace(anchor, anchor + addition, 1))


def test_a_new_model_and_its_registration_give_a_typed_method(tmp_path: Path) -> None:
    # A copy of what the generator reads (the wire vocabulary) and the generator itself.
    api = tmp_path / "apps" / "api"
    shutil.copytree(API_DIR / "websocket" / "protocol", api / "websocket" / "protocol")
    shutil.copy(API_DIR / "websocket" / "__init__.py", api / "websocket" / "__init__.py")
    shutil.copytree(API_DIR / "contract", api / "contract")
    (api / "events").mkdir()
    shutil.copy(API_DIR / "events" / "__init__.py", api / "events" / "__init__.py")
    protocol = api / "websocket" / "protocol"
    last_member = list(EventType)[-1]
    _add(protocol / "event_types.py", f'    {last_member.name} = "{last_member.value}"\n', ENUM_LINE)
    (protocol / "payloads.py").write_text((protocol / "payloads.py").read_text() + MODEL)
    _add(protocol / "catalog.py", "AiSuggestion, AiAnalysisComplete,", " DeployFinished,")
    _add(protocol / "catalog.py", "from websocket.protocol.payloads import (", "\n    DeployFinished,")

    generated = subprocess.run(
        [sys.executable, "-m", "contract"], cwd=api, capture_output=True, text=True, timeout=60
    )
    assert generated.returncode == 0, generated.stderr
    assert "wrote apps/api/events/broadcast_methods.py" in generated.stdout
    assert '"deploy.finished": DeployFinished;' in (tmp_path / "clients/typescript/events.d.ts").read_text()
    reference = subprocess.run(
        [sys.executable, "-m", "contract.markdown"], cwd=api, capture_output=True, text=True, timeout=60
    )
    assert "### `deploy.finished`\n\nA deployment of the project finished." in reference.stdout, (
        reference.stderr
    )
    (api / "caller.py").write_text(CALLER)

    # Typed: mypy (the project's configuration) reads the new method's parameters.
    # The configuration's mypy_path (apps/api) is the copy's from tmp_path; the cache is kept
    # between runs, so pydantic is analysed once.
    out = run_mypy(api / "caller.py", cwd=tmp_path, cache_dir=ROOT / ".mypy_cache" / "added-event-type")
    for expected in EXPECTED:
        assert expected in out, out

    # Working: it builds the model and publishes it to the model's rooms.
    call = (
        "import asyncio, caller\n"
        "asyncio.run(caller.Broadcaster().broadcast_deploy_finished("
        "project_id='550e8400-e29b-41d4-a716-446655440000', environment='staging', version='2'))"
    )
    ran = subprocess.run([sys.executable, "-c", call], cwd=api, capture_output=True, text=True, timeout=60)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.startswith("DeployFinished ['project:550e8400-e29b-41d4-a716-446655440000']"), (
        ran.stdout
    )
    assert '"notes":[]' in ran.stdout
