"""The pure parts of the webhook: signatures and the delivery-to-event mapping."""

from __future__ import annotations

import uuid

import pytest

from tests.support.github import PROJECT_ID, fixture
from webhooks.github_events import MappingError, github_uuid, to_event
from webhooks.projects import default_project_resolver
from webhooks.signature import matches, new_mac, sign, verify, well_formed
from websocket.protocol.payloads import PrClosed, PrCreated, PrUpdated

SECRET = b"It's a Secret to Everybody"


def test_signature_matches_githubs_documented_example() -> None:
    # The example in GitHub's "Validating webhook deliveries" documentation.
    expected = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    assert sign(SECRET, b"Hello, World!") == expected
    assert verify(SECRET, b"Hello, World!", expected)


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "sha256=",
        "sha1=757107ea0eb2509fc211221cce984b8a37570b6d",
        "757107ea0eb2509fc211221cce984b8a",
    ],
)
def test_signature_refuses_missing_or_foreign_headers(header: str | None) -> None:
    assert not verify(SECRET, b"Hello, World!", header)


def test_a_signature_fed_in_chunks_is_the_signature_of_the_whole() -> None:
    mac = new_mac(SECRET)
    for chunk in (b"Hello", b", ", b"World!"):
        mac.update(chunk)
    assert matches(mac, sign(SECRET, b"Hello, World!"))
    assert matches(mac, " " + sign(SECRET, b"Hello, World!") + "\n")  # as header values arrive


@pytest.mark.parametrize(
    ("header", "shape_ok"),
    [
        (None, False),
        ("", False),
        ("sha256=", False),
        ("sha1=757107ea0eb2509fc211221cce984b8a37570b6d", False),
        ("sha256=" + "A" * 64, False),  # GitHub sends lower case; upper case never matches hexdigest()
        ("sha256=" + "a" * 63, False),
        ("sha256=" + "a" * 65, False),
        ("sha256=" + "a" * 64, True),
    ],
)
def test_only_a_well_formed_header_gets_the_body_read(header: str | None, shape_ok: bool) -> None:
    assert well_formed(header) is shape_ok


def test_signature_refuses_another_body_or_secret() -> None:
    header = sign(SECRET, b"Hello, World!")
    assert not verify(SECRET, b"Hello, World?", header)
    assert not verify(b"another secret", b"Hello, World!", header)


async def test_default_resolver_derives_the_project_from_the_repository_url() -> None:
    repository = fixture("issues", "opened")["repository"]
    assert await default_project_resolver(repository) == PROJECT_ID
    assert uuid.uuid5(uuid.NAMESPACE_URL, "https://github.com/harbor-labs/tidewater") == PROJECT_ID
    with pytest.raises(MappingError, match=r"repository\.html_url is missing"):
        await default_project_resolver({"full_name": "a/b"})


def test_ids_are_stable_and_distinct_for_prs_and_issues() -> None:
    pr = to_event("pull_request", fixture("pull_request", "opened"), PROJECT_ID)
    pr_again = to_event("pull_request", fixture("pull_request", "labeled"), PROJECT_ID)
    issue = to_event("issues", fixture("issues", "opened"), PROJECT_ID)
    assert isinstance(pr, PrCreated) and isinstance(pr_again, PrUpdated)
    assert pr.pr_id == pr_again.pr_id == github_uuid("https://github.com/harbor-labs/tidewater/pull/128")
    assert issue.target_rooms() == [f"project:{PROJECT_ID}"]
    assert getattr(issue, "issue_id") != pr.pr_id  # noqa: B009


def test_merged_falls_back_to_merged_at_for_payloads_without_it() -> None:
    payload = fixture("pull_request", "closed")
    del payload["pull_request"]["merged"]
    event = to_event("pull_request", payload, PROJECT_ID)
    assert isinstance(event, PrClosed) and event.merged is True
    payload["pull_request"]["merged_at"] = None
    assert to_event("pull_request", payload, PROJECT_ID).merged is False  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda p: p["pull_request"].pop("html_url"), "pull_request.html_url is missing"),
        (lambda p: p["pull_request"].update(id=True), "pull_request.id must be an integer"),
        (lambda p: p["pull_request"].update(user="maya"), "pull_request.user must be an object"),
        (lambda p: p.update(pull_request=[1]), "pull_request must be an object"),
        (lambda p: p.update(action=7), "action must be a string"),
    ],
)
def test_missing_or_mistyped_fields_name_the_field(mutate: object, message: str) -> None:
    payload = fixture("pull_request", "opened")
    mutate(payload)  # type: ignore[operator]
    with pytest.raises(MappingError) as caught:
        to_event("pull_request", payload, PROJECT_ID)
    assert str(caught.value) == message
