"""jsonlib: orjson's speed, with JSON's own rules where orjson is stricter than JSON."""

from __future__ import annotations

import json
import math

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from websocket.protocol import jsonlib

CUT_EMOJI = "cut \ud83d"  # what "cut 😀".slice(0, 5) is in JavaScript: a lone high surrogate


def test_a_lone_surrogate_escaped_as_json_stringify_writes_it_is_read() -> None:
    text = '["subscribe",{"room":"cut \\ud83d"}]'  # JSON.stringify(["subscribe", {room: CUT_EMOJI}])
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(text)  # why the fallback exists
    assert jsonlib.loads(text) == ["subscribe", {"room": CUT_EMOJI}]
    assert jsonlib.loads(text.encode()) == ["subscribe", {"room": CUT_EMOJI}]


def test_a_lone_surrogate_is_written_escaped_and_reads_back_the_same() -> None:
    value = {"name": CUT_EMOJI, "other": "héllo"}
    with pytest.raises(orjson.JSONEncodeError):
        orjson.dumps(value)
    for written in (jsonlib.dumps(value), jsonlib.dumpb(value).decode()):
        assert written.isascii() and "\\ud83d" in written and "\\u00e9" in written
        assert json.loads(written) == value


def test_numbers_beyond_a_double_read_as_infinity() -> None:
    assert math.isinf(jsonlib.loads("[1e400]")[0])


@pytest.mark.parametrize(
    "text", ["[NaN]", "[Infinity]", "{", "", "[1,]", "'a'", "[" * 3000 + "]" * 3000, b"\xff\xfe"]
)
def test_what_is_not_json_still_raises_orjsons_error(text: str | bytes) -> None:
    with pytest.raises(jsonlib.JSONDecodeError):
        jsonlib.loads(text)


def test_ordinary_values_take_orjsons_path_and_stay_compact() -> None:
    assert jsonlib.dumps({"a": [1, "é"]}) == '{"a":[1,"é"]}'
    assert jsonlib.dumpb({1: None}) == b'{"1":null}'


ANY_TEXT = st.text(st.characters(exclude_categories=()))  # lone surrogates included (Cs)
SURROGATE = st.sampled_from(["\ud800", "\udbff", "\udc00", "\udfff"]).map(lambda s: s + "x")
SCALARS = st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | ANY_TEXT | SURROGATE
VALUES = st.recursive(
    SCALARS, lambda inner: st.lists(inner) | st.dictionaries(ANY_TEXT, inner), max_leaves=20
)


@given(VALUES)
def test_any_json_value_with_any_string_round_trips(value: object) -> None:
    """Whatever strings a value holds, it comes back equal from both writers."""
    assert jsonlib.loads(jsonlib.dumps(value)) == value
    assert jsonlib.loads(jsonlib.dumpb(value)) == value
