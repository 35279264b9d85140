"""mypy, in-process, with the project's configuration (what `make typecheck` runs), on one file."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from mypy import api

from tests.support.servers import ROOT


def run_mypy(path: Path, *, cwd: Path = ROOT, cache_dir: Path | None = None) -> str:
    """mypy's report on `path`. The configuration's relative paths (mypy_path) resolve
    against `cwd`; mypy raises the recursion limit for itself, which is given back."""
    limit, previous = sys.getrecursionlimit(), Path.cwd()
    options = ["--config-file", str(ROOT / "pyproject.toml"), str(path)]
    options += ["--cache-dir", str(cache_dir)] if cache_dir else []
    os.chdir(cwd)
    try:
        out, err, _ = api.run(options)
    finally:
        os.chdir(previous)
        sys.setrecursionlimit(limit)
    assert not err, err
    return out
