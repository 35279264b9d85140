"""The benchmark harness runs end to end (quick mode) and writes a readable table.

A smoke test of the harness, not a benchmark: it checks that every client
connected, subscribed and received every event, never how fast.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.redis import require

ROOT = Path(__file__).resolve().parents[2]
SERVERS = ("ours", "python-socketio")


def tables(markdown: str) -> dict[str, dict[str, list[str]]]:
    """{section title: {row label: cells}} for every table under a `###` heading."""
    found: dict[str, dict[str, list[str]]] = {}
    section = ""
    for line in markdown.splitlines():
        if line.startswith("### "):
            section = line[4:].strip()
        elif line.startswith("| ") and section:
            cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
            found.setdefault(section, {})[cells[0]] = cells
    return found


@pytest.mark.slow
@pytest.mark.timeout(90)
def test_quick_run_writes_a_complete_table(tmp_path: Path) -> None:
    require("node", "the load generator and the Node reference run on Node.js")
    require("taskset", "the harness pins servers and load to separate cores")
    require("redis-server", "the history scenario runs ours through Redis too")
    output = tmp_path / "RESULTS.md"
    command = [
        sys.executable, "bench/run.py", "--quick", "--servers", ",".join(SERVERS),
        "--scenarios", "connects,fanout,history", "--output", str(output), "--json", str(tmp_path / "r.json"),
    ]  # fmt: skip
    # Its own session, so a timeout can stop the harness together with its servers.
    proc = subprocess.Popen(command, cwd=ROOT, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        _, stderr = proc.communicate(timeout=80)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 0, stderr[-3000:]

    text = output.read_text()
    found = tables(text)
    header = found["Fan-out of one room broadcast"]["metric"]
    columns = [header.index(name) for name in SERVERS]
    fanout = found["Fan-out of one room broadcast"]
    for column in columns:
        assert fanout["to 200 clients: events lost"][column] == "0"
        assert float(fanout["to 200 clients: deliveries/s"][column].replace(",", "")) > 0
        assert float(found["Connects"]["connects/s while ramping to 200"][column].replace(",", "")) > 0
    assert "ours ÷ python-socketio" in header
    assert float(found["Connects"]["longest stall in the disconnect"][columns[0]]) >= 0
    history = found["History / resume overhead (ours only)"]
    for mode in ("memory", "redis"):
        for state in ("on", "off"):
            assert float(history[f"{mode}: events/s, history {state}"][columns[0]].replace(",", "")) > 0
    assert history["memory: events/s, history on"][columns[1]] == "skipped"
    assert "python-socketio: skipped: no event history" in text
    assert "python bench/run.py --quick" in text
