"""The docs describe the wire as the code implements it."""

from __future__ import annotations

import re
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


def test_every_http_error_code_of_the_producer_endpoints_is_documented() -> None:
    sources = [ROOT / "apps/api/routers/publish.py", ROOT / "apps/api/routers/body.py",
               ROOT / "apps/api/webhooks/github.py", ROOT / "apps/api/webhooks/signed_body.py"]  # fmt: skip
    codes = set()
    for source in sources:
        text = source.read_text()
        codes |= set(re.findall(r'"code": "([A-Z_]+)"', text)) | set(
            re.findall(r'_refuse\(\d+, "([A-Z_]+)"', text)
        )
    assert {"INVALID_SIGNATURE", "INVALID_EVENT", "PAYLOAD_TOO_LARGE"} <= codes  # the patterns still match
    for code in codes:
        assert f"`{code}`" in API_DOC, code
