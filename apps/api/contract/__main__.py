"""`python -m contract` (from apps/api) writes the client artifacts under clients/ and the
broadcaster's typed methods (apps/api/events/broadcast_methods.py);
`python -m contract --check` exits 1 when a committed one is out of date."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from contract import asyncapi, jsonschemas, python, typescript

ROOT = Path(__file__).resolve().parents[3]


def artifacts() -> dict[Path, str]:
    """Repository path -> generated content."""
    return {
        ROOT / "clients" / "asyncapi.json": json.dumps(asyncapi.document(), indent=2) + "\n",
        ROOT / "clients" / "events.schema.json": json.dumps(jsonschemas.document(), indent=2) + "\n",
        ROOT / "clients" / "typescript" / "events.d.ts": typescript.render(),
        ROOT / "apps" / "api" / "events" / "broadcast_methods.py": python.render(),
    }


def main(argv: list[str]) -> int:
    stale = [path for path, text in artifacts().items() if not path.exists() or path.read_text() != text]
    if "--check" in argv:
        for path in stale:
            print(f"out of date: {path.relative_to(ROOT)} (run `python -m contract` in apps/api)")
        return 1 if stale else 0
    for path, text in artifacts().items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        print(f"{'wrote' if path in stale else 'unchanged'} {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
