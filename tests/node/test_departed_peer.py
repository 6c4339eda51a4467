"""A follower killed with SIGKILL, and a peer that is connected but never publishes, cost the clock's
node one grace period once, not a stage timeout per stage (real ``rlswarm join`` processes)."""

from __future__ import annotations

import select
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from rlswarm_core.identity.keys import create_identity
from tests.helpers import REPO
from tests.node.procs import NodeProcess, loopback_maddr

pytestmark = pytest.mark.slow

GRACE_S = "3"
STAGES_AFTER_KILL = 4
COMMON = ["--profile", "local-tiny", "--host", "127.0.0.1", "--port", "0"]


def _silent_peer(tmp_path: Path, bootstrap: str) -> subprocess.Popen[str]:
    identity = create_identity(tmp_path / "silent.pem")
    cmd = [sys.executable, "-m", "tests.swarm.peer_process", "--identity", str(identity.path)]
    cmd += ["--peer", bootstrap, "--round", "0", "--silent"]
    proc = subprocess.Popen(
        cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, start_new_session=True
    )
    ready, _, _ = select.select([proc.stdout], [], [], 90)
    assert ready and proc.stdout is not None and proc.stdout.readline().strip() == "READY"
    return proc


def test_a_killed_follower_costs_one_grace_once(tmp_path: Path) -> None:
    homes = {name: tmp_path / name for name in ("coord", "follower")}
    peers = {
        name: create_identity(home / "data" / "identities" / "default.pem").peer_id
        for name, home in homes.items()
    }
    env = {"RLSWARM_PEER_GRACE_S": GRACE_S}
    nodes: list[NodeProcess] = []
    silent = None
    try:
        # A stage timeout far above the test's own deadline: waiting it out even once would fail.
        coord = NodeProcess(
            "coord", homes["coord"], [*COMMON, "--role", "coordinator", "--stage-timeout", "900"], env
        )
        nodes.append(coord)
        started = coord.wait_for(lambda e: e["kind"] == "NodeStarted", timeout=120)
        silent = _silent_peer(tmp_path, loopback_maddr(started))
        follower = NodeProcess(
            "follower",
            homes["follower"],
            [*COMMON, "--role", "follower", "--initial-peer", loopback_maddr(started)],
            env,
        )
        nodes.append(follower)
        # The coordinator runs ahead alone until the follower has loaded its model and caught up; once
        # the follower took part in a stage it dies like a crashed host.
        together = coord.wait_for(
            lambda e: e["kind"] == "StageClosed" and e["reason"] == "all" and e["published"] == 2, timeout=300
        )
        follower.kill_hard()
        killed_at = coord.of("StageClosed").index(together) + 1
        coord.wait_for(
            lambda e: (
                e["kind"] == "StageClosed" and len(coord.of("StageClosed")) >= killed_at + STAGES_AFTER_KILL
            ),
            timeout=300,
        )
        coord.stop(timeout=60)
    finally:
        procs = [p for node in nodes for p in node.tree()]
        for node in nodes:
            node.stop(timeout=30)
        if silent is not None:
            silent.kill()
            silent.wait(10)
        _, alive = psutil.wait_procs(procs, timeout=15)
        assert not alive, f"processes left behind: {alive}"

    closes = coord.of("StageClosed")
    after_kill = closes[killed_at:]
    waited = [c for c in after_kill if c["reason"] != "all"]
    # the stage the follower died in (or the one after, had it died between stages) waited one grace
    assert len(waited) == 1, waited
    assert waited[0]["reason"] == "grace" and waited[0]["missing"] == [peers["follower"]]
    assert all(c["expected"] == 1 for c in after_kill[after_kill.index(waited[0]) + 1 :])
    # the silent peer was never waited for: at most the two nodes were ever expected
    assert max(c["expected"] for c in closes) == 2
    # honest peers' claims are reproduced from their outputs in every stage: nobody is flagged
    assert not coord.of("ClaimFlagged")
    assert len(coord.of("LeaderboardChanged")) > 0
