"""Three real nodes on loopback (coordinator + 2 followers) train the local-tiny model for two rounds of
all three stages; one follower is killed with SIGKILL mid-run and resumes from its checkpoint."""

from __future__ import annotations

from pathlib import Path

import psutil
import pytest

from rlswarm_core.identity.keys import create_identity
from tests.node.procs import NodeProcess, loopback_maddr

pytestmark = pytest.mark.slow

ROUNDS = 2
COMMON = ["--profile", "local-tiny", "--host", "127.0.0.1", "--port", "0", "--max-rounds", str(ROUNDS)]


def _identity(home: Path) -> str:
    return create_identity(home / "data" / "identities" / "default.pem").peer_id


def test_three_nodes_two_rounds_with_a_killed_follower(tmp_path: Path) -> None:
    homes = {name: tmp_path / name for name in ("coord", "f1", "f2")}
    peers = {name: _identity(home) for name, home in homes.items()}
    nodes: list[NodeProcess] = []
    try:
        coord = NodeProcess(
            "coord",
            homes["coord"],
            [*COMMON, "--role", "coordinator", "--stage-timeout", "90", "--min-peers", "3"],
        )
        nodes.append(coord)
        started = coord.wait_for(lambda e: e["kind"] == "NodeStarted", timeout=120)
        assert started["peer_id"] == peers["coord"]
        follow = [
            *COMMON,
            "--role",
            "follower",
            "--initial-peer",
            loopback_maddr(started),
            "--coordinator-peer-id",
            peers["coord"],
            "--stage-timeout",
            "120",
        ]
        f1 = NodeProcess("f1", homes["f1"], follow)
        f2 = NodeProcess("f2", homes["f2"], follow)
        nodes += [f1, f2]

        # f1 is killed once its first checkpoint is on disk, then restarted with the same identity.
        f1.wait_for(lambda e: e["kind"] == "CheckpointSaved" and e["round"] == 0, timeout=300)
        f1.kill_hard()
        f1_again = NodeProcess("f1-restarted", homes["f1"], follow)
        nodes.append(f1_again)
        resumed = f1_again.wait_for(lambda e: e["kind"] == "Resumed", timeout=120)
        assert resumed["round"] == 0
        restarted = f1_again.wait_for(lambda e: e["kind"] == "NodeStarted", timeout=60)
        assert restarted["peer_id"] == peers["f1"]

        for node in (coord, f2, f1_again):
            assert node.wait(timeout=420) == 0, f"{node.name} failed: {''.join(node.stderr)[-2000:]}"

        everyone = set(peers.values())
        # Every node finished both rounds (the restarted follower the one it had left) with winners.
        for node, rounds in ((coord, {0, 1}), (f2, {0, 1}), (f1_again, {1})):
            finished = {e["round"]: e for e in node.of("RoundFinished")}
            assert rounds <= set(finished), f"{node.name} finished rounds {sorted(finished)}"
            for r in rounds:
                assert set(finished[r]["winners"]) <= everyone and finished[r]["winners"]
                assert finished[r]["vote"] == finished[r]["winners"][:1]
        # The coordinator waited for all three peers, so every stage of every round ran on it and on the
        # follower that was never killed.
        for node in (coord, f2):
            stages = {(e["round"], e["stage"]) for e in node.of("StageFinished")}
            assert stages == {(r, s) for r in range(ROUNDS) for s in range(3)}, node.name
        # Outputs reached the others: in round 1 the coordinator gathered all three peers' outputs of
        # stages 0 and 1, and so did the healthy follower.
        for node in (coord, f2):
            gathered = [e for e in node.of("OutputsGathered") if e["round"] == 1 and e["stage"] in (0, 1)]
            assert gathered and all(e["peers"] == 3 for e in gathered), (node.name, gathered)
        # Rewards and the leaderboard were published with every peer on it.
        boards = [e for e in coord.of("LeaderboardChanged") if e["round"] == 1]
        assert boards and {peer for peer, _ in boards[-1]["top"]} == everyone
        assert coord.of("RewardsPublished") and f2.of("RewardsPublished")
        # Checkpoints exist for every node's last round, under its own peer id.
        for name, last in (("coord", 1), ("f2", 1), ("f1", 1)):
            folder = homes[name] / "data" / "checkpoints" / peers[name] / f"round-{last:06d}"
            assert (folder / "model.safetensors").is_file() and (folder / "record.json").is_file()
    finally:
        procs = [p for node in nodes for p in node.tree()]
        for node in nodes:
            node.stop(timeout=30)
        _, alive = psutil.wait_procs(procs, timeout=15)
        assert not alive, f"processes left behind: {alive}"
