"""The client artifacts (JSON Schema, AsyncAPI, TypeScript) match the models and are valid."""

from __future__ import annotations

import copy
import json
import subprocess
from typing import Any

import pytest
from jsonschema import Draft7Validator, Draft202012Validator

from contract import asyncapi, jsonschemas, typescript
from contract.__main__ import ROOT, artifacts
from contract.samples import sample_envelope, sample_payload
from tests.support.node import JS_DIR, ensure_node_modules
from websocket.protocol.catalog import CONNECTION_EVENTS, PAYLOAD_MODELS
from websocket.protocol.commands import COMMANDS
from websocket.protocol.event_types import EventType
from websocket.server.commands import IMPLEMENTATIONS


def asyncapi_validator() -> Draft7Validator:
    """The official AsyncAPI 3.0.0 JSON Schema, from the npm package @asyncapi/specs."""
    ensure_node_modules()
    spec = json.loads((JS_DIR / "node_modules/@asyncapi/specs/schemas/3.0.0.json").read_text())
    return Draft7Validator(spec)


def test_committed_artifacts_are_generated_from_the_models() -> None:
    for path, text in artifacts().items():
        assert path.read_text() == text, (
            f"{path.relative_to(ROOT)} is out of date: run `python -m contract` in apps/api"
        )


def test_asyncapi_document_is_valid_asyncapi_3() -> None:
    errors = [
        f"{list(e.absolute_path)}: {e.message}" for e in asyncapi_validator().iter_errors(asyncapi.document())
    ]
    assert errors == []


@pytest.mark.parametrize(
    "breakage",
    [
        lambda doc: doc["info"].pop("version"),
        lambda doc: doc["operations"]["subscribe"].update(action="publish"),
        lambda doc: doc["channels"]["project"].update(address=42),
        lambda doc: doc["components"]["messages"]["projectUpdated"].update(examples="none"),
    ],
)
def test_the_asyncapi_check_catches_a_broken_document(breakage: Any) -> None:
    doc = copy.deepcopy(asyncapi.document())
    breakage(doc)
    assert list(asyncapi_validator().iter_errors(doc)), "a broken document passed validation"


def test_asyncapi_covers_every_event_and_command() -> None:
    doc = asyncapi.document()
    names = {message["name"] for message in doc["components"]["messages"].values()}
    assert {t.value for t in EventType} <= names
    assert set(COMMANDS) <= names
    assert {op["action"] for op in doc["operations"].values()} == {"send", "receive"}
    for name in COMMANDS:
        assert "reply" in doc["operations"][asyncapi.message_key(name)]
    # Each event sits on the channel of every room kind its model routes it to.
    workflow = doc["channels"]["workflow"]["messages"]
    project = doc["channels"]["project"]["messages"]
    assert "workflowProgress" in workflow and "workflowProgress" in project
    assert "prCreated" in project and "prCreated" not in workflow
    assert "aiSuggestion" in doc["channels"]["user"]["messages"]


def test_every_command_the_server_handles_is_described() -> None:
    assert set(IMPLEMENTATIONS) == set(COMMANDS)  # payload models: the dispatcher takes COMMANDS'


def test_json_schema_accepts_every_sample_and_refuses_wrong_ones() -> None:
    schema = jsonschemas.document()
    Draft202012Validator.check_schema(schema)
    validator = Draft202012Validator(schema)
    for event_type in EventType:
        envelope = sample_envelope(event_type)
        validator.validate(envelope)
        wrong = copy.deepcopy(envelope)
        wrong["data"]["unexpected_field"] = 1
        assert not validator.is_valid(wrong), event_type
    progress = sample_envelope(EventType.WORKFLOW_PROGRESS)
    progress["data"]["progress"] = 101
    assert not validator.is_valid(progress)
    mislabelled = sample_envelope(EventType.WORKFLOW_PROGRESS)
    mislabelled["type"] = "pr.created"
    assert not validator.is_valid(mislabelled)


def test_samples_cover_every_event_and_set_every_routing_field() -> None:
    for model in PAYLOAD_MODELS.values():
        # Its own, not one inherited from the model it extends.
        assert "example" in vars(model), f"{model.__name__} declares no `example` (see Payload.example)"
    for event_type in EventType:
        if event_type not in CONNECTION_EVENTS:
            assert len(sample_payload(event_type).target_rooms()) >= 1
    assert len(sample_payload(EventType.WORKFLOW_PROGRESS).target_rooms()) == 2
    assert len(sample_payload(EventType.AI_SUGGESTION).target_rooms()) == 2


def test_typescript_definitions_compile_against_socket_io_client() -> None:
    ensure_node_modules()
    assert (ROOT / "clients/typescript/events.d.ts").read_text() == typescript.render()
    tsc = JS_DIR / "node_modules/typescript/bin/tsc"
    result = subprocess.run(
        ["node", str(tsc), "-p", "tsconfig.json"], cwd=JS_DIR, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
