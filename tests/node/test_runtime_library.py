"""The node runtime from plain Python: the few lines the README shows run the same node as
``rlswarm join``, without the command-line package."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import REPO

pytestmark = pytest.mark.slow

SNIPPET = """
from rlswarm_core.node import LineRenderer, NodeRequest, run_node

request = NodeRequest(settings={"profile": "local-tiny", "host": "127.0.0.1", "dht_port": 0}, max_rounds=1)
summary = run_node(request, LineRenderer())
print(summary.rounds_completed, summary.reason)

import sys
print("cli modules:", sorted(m for m in sys.modules if m.split(".")[0] in ("rlswarm_cli", "typer")))
"""


def test_the_readme_snippet_runs_a_node(tmp_path: Path) -> None:
    home = tmp_path / "home"
    done = subprocess.run(
        [sys.executable, "-c", SNIPPET],
        cwd=REPO,
        env={**os.environ, "RLSWARM_HOME": str(home)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    assert "created identity default" in out and "joining as coordinator" in out
    assert "round 0 done" in out and "checkpoint for round 0" in out
    assert "[0] reached round 1" in out
    assert "cli modules: []" in out
    # the same journal and log as a node started by 'rlswarm join'
    journal = (home / "state" / "instances" / "default" / "events.jsonl").read_text()
    assert journal.count('"RoundFinished"') == 1
    assert "round 0 done" in (home / "logs" / "default.log").read_text()


def test_the_service_entry_point_takes_what_join_takes() -> None:
    """A supervisor or service runs ``python -m rlswarm_core.node``: it reaches the same request as join's
    flags, including --rounds and --swarm."""
    from rlswarm_core.node.__main__ import parse, request_from

    request = request_from(
        parse(
            [
                "--instance",
                "n1",
                "--rounds",
                "2",
                "--swarm",
                "club.toml",
                "--port",
                "0",
                "--set",
                "batch_size=2",
            ]
        )
    )
    assert (request.instance, request.rounds, request.swarm) == ("n1", 2, "club.toml")
    assert request.settings["dht_port"] == 0
    assert str(request.settings["batch_size"]) == "2"  # validated with the other layers
