"""``join --rounds N`` trains N more rounds from where the node resumes, so running the same command
again trains again (``--max-rounds`` is the absolute round to stop at)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.node.procs import NodeProcess

pytestmark = pytest.mark.slow

ARGS = ["--profile", "local-tiny", "--port", "0", "--host", "127.0.0.1", "--rounds", "1"]
TIMEOUT = 300


def _run(name: str, home: Path) -> NodeProcess:
    node = NodeProcess(name, home, ARGS)
    try:
        assert node.wait(TIMEOUT) == 0, node.describe()
    finally:
        node.stop()
    return node


def test_rounds_counts_from_where_a_resumed_node_starts(tmp_path: Path) -> None:
    home = tmp_path / "home"
    first = _run("first", home)
    assert [e["round"] for e in first.of("RoundFinished")] == [0]
    assert first.of("NodeStopped")[-1]["reason"] == "trained 1 round(s)"

    again = _run("again", home)  # the same command: it resumes after round 0 and trains round 1
    assert [e["round"] for e in again.of("Resumed")] == [0]
    assert [e["round"] for e in again.of("RoundFinished")] == [1]
    assert [e["round"] for e in again.of("CheckpointSaved")] == [1]
    assert again.of("NodeStopped")[-1]["reason"] == "trained 1 round(s)"
    assert len(again.of("StageFinished")) == 3  # one full round of three stages, nothing more
