"""The docs describe the wire as the code implements it."""

from __future__ import annotations

from pathlib import Path

from websocket import reference
from websocket.errors import ErrorCode

ROOT = Path(__file__).resolve().parents[2]
API_DOC = (ROOT / "WEBSOCKET_API.md").read_text()


def test_event_reference_is_generated_from_the_models() -> None:
    start, end = API_DOC.index(reference.BEGIN), API_DOC.index(reference.END) + len(reference.END)
    assert API_DOC[start:end] == reference.render(), (
        "WEBSOCKET_API.md is out of date: regenerate its event reference with "
        "`cd apps/api && python -m websocket.reference`"
    )


def test_every_error_code_is_documented() -> None:
    for code in ErrorCode:
        assert f"`{code.value}`" in API_DOC, code
