"""orjson behind the stdlib `json` interface that python-socketio expects.

python-socketio and python-engineio call `json.dumps(obj, separators=...)`
and `json.loads(text)` on a module-level object; this module is that object.
orjson is several times faster, and its `Fragment` lets the broadcaster embed
an envelope it serialised once without it being parsed and written again.
"""

from __future__ import annotations

from typing import Any

import orjson

Fragment = orjson.Fragment
JSONDecodeError = orjson.JSONDecodeError

_OPTIONS = orjson.OPT_NON_STR_KEYS


def dumps(obj: Any, **_: Any) -> str:
    """Compact JSON text (the `separators`/`indent` arguments are ignored)."""
    return orjson.dumps(obj, option=_OPTIONS).decode()


def dumpb(obj: Any) -> bytes:
    return orjson.dumps(obj, option=_OPTIONS)


def loads(text: str | bytes | bytearray | memoryview, **_: Any) -> Any:
    return orjson.loads(text)
