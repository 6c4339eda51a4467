"""A node whose latest checkpoint was damaged on disk (truncated, emptied or deleted weights): ``push-hub``
refuses it naming the file, and a restart falls back to the intact round before it and trains on."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from rlswarm_core.training.integrity import verify_folder
from tests.helpers import run_rlswarm
from tests.node.procs import NodeProcess

pytestmark = pytest.mark.slow

ARGS = ["--profile", "local-tiny", "--port", "0", "--host", "127.0.0.1"]
TIMEOUT = 300


@pytest.fixture(scope="module")
def trained_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home after two real rounds: checkpoints for rounds 0 and 1."""
    home = tmp_path_factory.mktemp("resume") / "home"
    node = NodeProcess("first-run", home, [*ARGS, "--max-rounds", "2"])
    try:
        assert node.wait(TIMEOUT) == 0, node.describe()
    finally:
        node.stop()
    assert [e["round"] for e in node.of("CheckpointSaved")] == [0, 1]
    return home


def _damage(path: Path, how: str) -> None:
    if how == "deleted":
        path.unlink()
    else:
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2] if how == "truncated" else b"")


@pytest.mark.parametrize("how", ["truncated", "emptied", "deleted"])
def test_restart_falls_back_to_the_newest_intact_checkpoint(
    trained_home: Path, tmp_path: Path, how: str
) -> None:
    home = tmp_path / "home"
    shutil.copytree(trained_home, home, symlinks=True)
    (checkpoints,) = (home / "data" / "checkpoints").iterdir()
    weights = checkpoints / "round-000001" / "model.safetensors"
    _damage(weights, how)
    problem = {"truncated": "is truncated", "emptied": "is empty", "deleted": "is missing"}[how]

    refused = run_rlswarm("push-hub", "--dry-run", env={"RLSWARM_HOME": str(home)}, timeout=120)
    assert refused.returncode == 1 and refused.stdout == ""
    (line,) = refused.stderr.strip().splitlines()
    assert line.startswith("error: refusing to push the damaged checkpoint of round 1: ")
    assert f"{weights} {problem}" in line and "(rounds whose files are all there: 0;" in line

    node = NodeProcess(f"restart-{how}", home, [*ARGS, "--max-rounds", "3"])
    try:
        assert node.wait(TIMEOUT) == 0, node.describe()
    finally:
        node.stop()
    (skipped,) = node.of("CheckpointSkipped")
    assert skipped["round"] == 1 and skipped["path"] == str(weights.parent)
    assert f"{weights} {problem}" in skipped["reason"]
    (resumed,) = node.of("Resumed")
    assert resumed["round"] == 0
    kinds = [e["kind"] for e in node.events]
    assert kinds.index("CheckpointSkipped") < kinds.index("Resumed") < kinds.index("NodeStarted")
    # training went on from round 0's weights: round 1 again, then round 2, both saved intact
    assert [e["round"] for e in node.of("RoundFinished")] == [1, 2]
    assert [e["round"] for e in node.of("CheckpointSaved")] == [1, 2]
    assert verify_folder(checkpoints / "round-000001").ok and verify_folder(checkpoints / "round-000002").ok
    assert "unexpected" not in "".join(node.stderr)
    journal = home / "state" / "instances" / "default" / "events.jsonl"
    assert any(json.loads(line)["kind"] == "CheckpointSkipped" for line in journal.read_text().splitlines())

    pushed = run_rlswarm("--json", "push-hub", "--dry-run", env={"RLSWARM_HOME": str(home)}, timeout=120)
    assert pushed.returncode == 0, pushed.stderr
    assert json.loads(pushed.stdout)["pushes"][0]["round"] == 2
