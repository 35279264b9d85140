"""The docs describe the wire as the code implements it."""

from __future__ import annotations

import re

import pytest

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


# -- each fact in one place, and every link between the docs resolving --------------------------

DOCS = ["README.md", "OPERATIONS.md", "WEBSOCKET_API.md", "WEBSOCKET_INTEGRATION_GUIDE.md", "SECURITY.md",
        "bench/RESULTS.md"]  # fmt: skip
OPERATIONS = (ROOT / "OPERATIONS.md").read_text()
FENCE = re.compile(r"^```.*?^```", re.S | re.M)


def prose(text: str) -> str:
    """A Markdown text without its fenced code blocks (a `# comment` in one is not a heading)."""
    return FENCE.sub("", text)


def section(text: str, heading: str) -> str:
    """From `heading` to the next heading of the same or a higher level."""
    level = heading.split(" ", 1)[0]
    start = text.index(heading + "\n")
    following = re.search(rf"^#{{1,{len(level)}}} ", text[start + len(heading) :], re.M)
    return text[start : start + len(heading) + following.start()] if following else text[start:]


def first_cells(table_text: str) -> list[str]:
    return re.findall(r"^\| ([^|]*(?:\\\|[^|]*)*) \|", table_text, re.M)


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(text: str) -> set[str]:
    found: dict[str, int] = {}
    result = set()
    for heading in re.findall(r"^#{1,6} (.+)$", prose(text), re.M):
        base = slug(heading)
        n = found.get(base, 0)
        found[base] = n + 1
        result.add(base if n == 0 else f"{base}-{n}")
    return result


def settings_in(cell: str) -> set[str]:
    return set(re.findall(r"`([A-Z][A-Z0-9_]+)`", cell))


def test_every_setting_is_in_the_configuration_table_of_operations_md() -> None:
    from config import Settings

    settings = {name.upper() for name in Settings.model_fields}
    table = section(OPERATIONS, "## Configuration")
    tabled: set[str] = set()
    for cell in first_cells(table):
        tabled |= settings_in(cell)
    assert len(tabled) > 40  # the table is where the test looks
    assert sorted(settings - tabled) == [], "settings missing from OPERATIONS.md's configuration table"
    assert sorted(tabled - settings) == [], "OPERATIONS.md's configuration table names unknown settings"


def test_settings_are_tabled_nowhere_else() -> None:
    """No other doc keeps a table of settings of its own (a row that starts with a setting's name)."""
    from config import Settings

    settings = {name.upper() for name in Settings.model_fields}
    for doc in DOCS:
        if doc == "OPERATIONS.md":
            continue
        rows = [cell for cell in first_cells((ROOT / doc).read_text()) if settings_in(cell) & settings]
        rows = [cell for cell in rows if not re.sub(r"`[A-Z0-9_]+`|[ ,/]", "", cell)]
        assert rows == [], f"{doc} tables settings {rows}: link OPERATIONS.md#configuration instead"


def test_the_development_cors_defaults_are_the_codes() -> None:
    from config import DEV_CORS_ORIGINS

    [row] = [line for line in OPERATIONS.splitlines() if line.startswith("| `CORS_ORIGINS` |")]
    default = row.split(" | ")[1]
    assert set(re.findall(r"`(http[^`]+)`", default)) == set(DEV_CORS_ORIGINS), default


def test_the_room_length_limit_is_the_codes() -> None:
    from websocket.protocol.rooms import MAX_ROOM_LENGTH

    rooms = section(API_DOC, "## Rooms")
    assert f"A room name is at most {MAX_ROOM_LENGTH}\ncharacters" in rooms or (
        f"A room name is at most {MAX_ROOM_LENGTH} characters" in " ".join(rooms.split())
    )
    assert "refused with `INVALID_PAYLOAD`" in " ".join(rooms.split())  # the command schema's length check


def test_every_link_between_the_docs_resolves() -> None:
    checked = 0
    for doc in DOCS:
        path = ROOT / doc
        for target in re.findall(r"\]\(([^)\s]+)\)", prose(path.read_text())):
            if re.match(r"[a-z]+:", target):  # http(s), mailto: not ours to check
                continue
            file_part, _, anchor = target.partition("#")
            linked = (path.parent / file_part).resolve() if file_part else path
            assert linked.exists(), f"{doc} links {target}: no such file"
            if anchor:
                assert linked.suffix == ".md", f"{doc} links {target}: an anchor into a non-Markdown file"
                assert anchor in anchors(linked.read_text()), f"{doc} links {target}: no such heading"
            checked += 1
    assert checked > 30  # the pattern still finds the links


def test_no_table_row_or_code_block_is_said_twice() -> None:
    """The same table row, or the same code block, in two docs is one fact kept in two places."""
    seen: dict[str, str] = {}
    for doc in DOCS:
        text = (ROOT / doc).read_text()
        rows = [row for row in re.findall(r"^\|.*\|$", prose(text), re.M) if len(row) > 60]
        blocks = [block for block in FENCE.findall(text) if len(block) > 120]
        for fact in {*rows, *blocks}:
            assert fact not in seen, f"said in {seen.get(fact)} and {doc}: {fact[:120]}"
            seen[fact] = doc


# Facts the docs used to say two or three times (issue 14), each with the one doc that says it now.
ONE_HOME = [
    (r"^\| limit \| default \| over it \|", "WEBSOCKET_API.md"),  # the limits table
    (r"^\| `connection\.error`", "WEBSOCKET_API.md"),  # what each closing event means, what to do
    (r"\{index, type, field, message\}", "WEBSOCKET_API.md"),  # POST /api/events semantics
    (r"the `path` option only\s+moves the Engine\.IO endpoint", "WEBSOCKET_API.md"),  # namespace and path
    (r'emit\("auth\.refresh"', "WEBSOCKET_INTEGRATION_GUIDE.md"),  # the token refresh code
    (r"new RoomClient\(", "WEBSOCKET_INTEGRATION_GUIDE.md"),  # the RoomClient snippets
    (r"^\| key \| type \| holds", "OPERATIONS.md"),  # what the server keeps in Redis
    (r"^### What happens when Redis fails", "OPERATIONS.md"),
]


@pytest.mark.parametrize(("fact", "home"), ONE_HOME)
def test_each_fact_has_one_home(fact: str, home: str) -> None:
    saying = [doc for doc in DOCS if re.search(fact, (ROOT / doc).read_text(), re.M)]
    assert saying == [home], f"{fact!r} is said in {saying}; its home is {home}, the others link there"
