"""orjson behind the stdlib `json` interface that python-socketio expects.

python-socketio and python-engineio call `json.dumps(obj, separators=...)`
and `json.loads(text)` on a module-level object; this module is that object.
orjson is several times faster, and its `Fragment` lets the broadcaster embed
an envelope it serialised once without it being parsed and written again.

orjson is stricter than JSON itself in two ways, and the standard library
takes over for those rare texts so that they are handled rather than refused:

* strings holding a lone UTF-16 surrogate. JavaScript strings may hold one
  (a string cut in the middle of an emoji), and `JSON.stringify` writes it
  escaped, `"\\ud83d"`. orjson refuses to read it and, once read, to write
  it (it writes UTF-8, which cannot carry one). The standard library reads
  it and writes it escaped again, so it reaches JavaScript clients unchanged;
* numbers beyond a double (`1e400`), which read as infinity.

What the standard library refuses too (and `NaN`/`Infinity`, which are not
JSON) still raises orjson's `JSONDecodeError`.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

Fragment = orjson.Fragment
JSONDecodeError = orjson.JSONDecodeError

_OPTIONS = orjson.OPT_NON_STR_KEYS


def dumps(obj: Any, **_: Any) -> str:
    """Compact JSON text (the `separators`/`indent` arguments are ignored)."""
    try:
        return orjson.dumps(obj, option=_OPTIONS).decode()
    except orjson.JSONEncodeError:
        return escaped(obj)


def dumpb(obj: Any) -> bytes:
    try:
        return orjson.dumps(obj, option=_OPTIONS)
    except orjson.JSONEncodeError:
        return escaped(obj).encode()


def escaped(obj: Any) -> str:
    """Compact ASCII JSON, every non-ASCII character escaped (lone surrogates included)."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=True, allow_nan=False)


def _not_json(constant: str) -> Any:
    raise ValueError(f"{constant} is not JSON")


def loads(text: str | bytes | bytearray | memoryview, **_: Any) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as strict:
        try:
            return json.loads(bytes(text) if isinstance(text, memoryview) else text, parse_constant=_not_json)
        except (ValueError, TypeError, RecursionError):
            raise strict from None
