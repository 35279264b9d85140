"""A venv holding requirements.txt alone: the environment `make run` builds.

Built once per test session under a temporary folder, with pip as this machine
configures it (`make run` does the same). The machine's local package folders
(pip's find-links and file:// indexes) do not hold every pinned release, so the
packages come from the registry pip is set up for, through pip's own cache
after the first time. Where they cannot be had, the tests that need the venv
skip locally and fail in CI (REQUIRE_ALL_TESTS=1).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.servers import ROOT


def build_runtime_venv(folder: Path) -> Path:
    """Create the venv in `folder`; its python."""
    subprocess.run([sys.executable, "-m", "venv", str(folder)], check=True, timeout=120)
    python = folder / "bin" / "python"
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "-r", str(ROOT / "requirements.txt")],
        capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    if install.returncode != 0:
        message = f"cannot install requirements.txt into a fresh venv: {install.stderr.strip()[-500:]}"
        if os.environ.get("REQUIRE_ALL_TESTS") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return python
