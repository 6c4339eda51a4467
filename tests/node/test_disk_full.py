"""A real ``rlswarm join`` whose home is a small tmpfs that fills up: training goes on, every event still
reaches the ``--json`` stream, no ``.tmp`` folder is left, and the exit code is the node's own outcome."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.node.procs import NodeProcess

pytestmark = pytest.mark.slow

ROUND_TIMEOUT = 240
ARGS = ["--profile", "local-tiny", "--port", "0", "--host", "127.0.0.1"]


def _checkpoints(home: Path) -> Path:
    (folder,) = (home / "data" / "checkpoints").iterdir()
    return folder


def _journal_kinds(home: Path) -> list[tuple[str, object, object]]:
    from rlswarm_core.node.journal import read_events

    read = read_events(home / "state" / "instances" / "default" / "events.jsonl")
    assert read.skipped == 0  # no torn line on disk
    return [(e["kind"], e.get("round"), e.get("stage")) for e in read.events]


def _stream_kinds(node: NodeProcess, kinds: set[str]) -> list[tuple[str, object, object]]:
    return [(e["kind"], e.get("round"), e.get("stage")) for e in node.events if e["kind"] in kinds]


def _rounds(node: NodeProcess, kind: str) -> list[int]:
    return [e["round"] for e in node.of(kind)]


def test_disk_filling_up_during_checkpoints(small_disk) -> None:
    """200 KB free: each checkpoint (about 800 KB) fills the disk part-way through its write."""
    disk = small_disk("5m")
    node = NodeProcess("full-during-write", disk.path, [*ARGS, "--max-rounds", "4"])
    try:
        node.wait_for(lambda e: e["kind"] == "CheckpointSaved" and e["round"] == 0, ROUND_TIMEOUT)
        seen_rounds = len(node.of("RoundFinished"))
        disk.fill(leave=200 * 1024)
        assert node.wait(4 * ROUND_TIMEOUT) == 0, node.describe()
    finally:
        node.stop()
    assert _rounds(node, "RoundFinished") == [0, 1, 2, 3]  # training went on
    saved, failed = _rounds(node, "CheckpointSaved"), _rounds(node, "CheckpointFailed")
    # each round saved or failed; from the first save that met the full disk on, every one failed
    assert failed and saved + failed == [0, 1, 2, 3] and failed == list(range(failed[0], 4))
    assert failed[0] <= seen_rounds + 1  # a round that ended after the disk filled could not save
    for event in node.of("CheckpointFailed"):
        assert "disk full while writing the checkpoint" in event["message"]
        assert f"round {saved[-1]} at" in event["message"] and "is intact" in event["message"]
    assert node.of("NodeStopped")[-1]["reason"] == "reached round 4"
    assert not list(_checkpoints(disk.path).glob(".tmp-*"))
    # the journal (its small lines fit in the 200 KB) holds the failures too
    assert [k for k in _journal_kinds(disk.path) if k[0] == "CheckpointFailed"] == [
        ("CheckpointFailed", r, None) for r in failed
    ]
    assert "unexpected" not in "".join(node.stderr)


def test_disk_already_full_then_freed(small_disk) -> None:
    """0 bytes free: checkpoint, journal and log all fail; the node trains on, the --json stream misses
    nothing, and once space is back the journal catches up with every event it held."""
    disk = small_disk("5m")
    node = NodeProcess("already-full", disk.path, [*ARGS, "--max-rounds", "4"])
    try:
        node.wait_for(lambda e: e["kind"] == "CheckpointSaved" and e["round"] == 0, ROUND_TIMEOUT)
        disk.fill()
        node.wait_for(lambda e: e["kind"] == "CheckpointFailed", 2 * ROUND_TIMEOUT)
        disk.free()
        assert node.wait(3 * ROUND_TIMEOUT) == 0, node.describe()
    finally:
        node.stop()
    assert _rounds(node, "RoundFinished") == [0, 1, 2, 3]
    (failed,) = node.of("CheckpointFailed")
    assert "disk full while writing the checkpoint" in failed["message"]
    assert failed["round"] in (1, 2)
    assert failed["round"] + 1 in _rounds(node, "CheckpointSaved")  # the next round saved again
    # the outage was reported once, and its end once
    assert (
        len(node.of("JournalWriteFailed")) == 1
        and "No space left" in node.of("JournalWriteFailed")[0]["message"]
    )
    (recovered,) = node.of("JournalRecovered")
    assert recovered["written"] > 0 and recovered["dropped"] == 0
    # the --json stream has every stage of every round ...
    stages = {(e["round"], e["stage"]) for e in node.of("StageFinished")}
    assert stages == {(r, s) for r in range(4) for s in range(3)}
    assert {(e["round"], e["stage"]) for e in node.of("StageStarted")} >= stages
    # ... and so has the journal, in the same order, once it could be written again
    important = {"StageStarted", "StageFinished", "RoundFinished", "CheckpointFailed", "CheckpointSaved"}
    journal = [k for k in _journal_kinds(disk.path) if k[0] in important]
    assert journal == _stream_kinds(node, important)
    assert node.of("NodeStopped")[-1]["reason"] == "reached round 4"
    assert not list(_checkpoints(disk.path).glob(".tmp-*"))
    log = (disk.path / "logs" / "default.log").read_text()
    assert f"round {failed['round']} done" in log  # the log caught up too
    assert "unexpected" not in "".join(node.stderr)
