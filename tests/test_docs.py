"""The docs describe the wire as the code implements it."""

from __future__ import annotations

import re

from contract import markdown as reference
from tests.support.servers import ROOT
from websocket.protocol.errors import ErrorCode

API_DOC = (ROOT / "WEBSOCKET_API.md").read_text()


def test_event_reference_is_generated_from_the_models() -> None:
    start, end = API_DOC.index(reference.BEGIN), API_DOC.index(reference.END) + len(reference.END)
    assert API_DOC[start:end] == reference.render(), (
        "WEBSOCKET_API.md is out of date: regenerate its event reference with "
        "`cd apps/api && python -m contract.markdown`"
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


SECURITY = (ROOT / "SECURITY.md").read_text()


def test_security_md_names_tests_that_exist() -> None:
    files: dict[str, str] = {}  # file name -> text (unit and integration tests may share a name)
    for path in (ROOT / "tests").rglob("test_*.py"):
        files[path.name] = files.get(path.name, "") + path.read_text()
    named = re.findall(r"`(test_\w+\.py)(?:::(test_\w+))?`", SECURITY)
    assert len(named) > 40  # the pattern still finds the references
    for file_name, test_name in named:
        assert file_name in files, f"SECURITY.md names {file_name}, which does not exist"
        if test_name:
            assert re.search(rf"def {test_name}\(", files[file_name]), f"{file_name}::{test_name} is gone"


def test_security_md_names_settings_that_exist() -> None:
    from config import Settings

    settings = {name.upper() for name in Settings.model_fields}
    named = set(re.findall(r"`([A-Z][A-Z0-9_]{3,})`", SECURITY))
    assert {"MAX_QUEUED_BYTES", "HTTP_HEADER_TIMEOUT", "PUBLISH_RATE"} <= named  # the pattern still matches
    codes_and_values = {"SLOW_CONSUMER", "RATE_LIMITED", "TOO_MANY_HANDSHAKES"}
    assert not named - settings - codes_and_values, sorted(named - settings - codes_and_values)
