"""The code family end to end with real ``rlswarm join`` processes, offline: a local-code node trains a
round with its replies run in the sandbox, two nodes share code problems, and a machine without a
sandbox refuses to start one."""

from __future__ import annotations

import json
from pathlib import Path

import psutil
import pytest

from rlswarm_core.identity.keys import create_identity
from tests.helpers import run_rlswarm
from tests.node.procs import NodeProcess, loopback_maddr
from tests.sandbox.helpers import live_sandbox_processes

pytestmark = pytest.mark.slow

COMMON = ["--profile", "local-code", "--host", "127.0.0.1", "--port", "0"]


def _identity(home: Path) -> str:
    return create_identity(home / "data" / "identities" / "default.pem").peer_id


def _stop_all(nodes: list[NodeProcess]) -> None:
    procs = [p for node in nodes for p in node.tree()]
    for node in nodes:
        node.stop(timeout=30)
    _, alive = psutil.wait_procs(procs, timeout=15)
    assert not alive, f"processes left behind: {alive}"
    assert not live_sandbox_processes(), "sandbox processes left behind"


def test_local_code_node_trains_a_round_offline(tmp_path: Path) -> None:
    home = tmp_path / "node"
    peer = _identity(home)
    node = NodeProcess("solo", home, [*COMMON, "--role", "coordinator", "--max-rounds", "1"])
    try:
        assert node.wait(timeout=300) == 0, node.describe()
        stage = node.of("StageFinished")
        assert [(e["round"], e["stage"]) for e in stage] == [(0, 0)]
        # every reply was scored by running HumanEval's tests: the tiny model passes none of them
        assert stage[0]["pass_at_1"] == 0.0 and stage[0]["questions"] == 4
        (finished,) = node.of("RoundFinished")
        assert finished["pass_at_1"] == 0.0 and finished["winners"] == [peer]
        record = json.loads(
            (home / "data" / "checkpoints" / peer / "round-000000" / "record.json").read_text()
        )
        assert record["task_family"] == "code" and record["extra"]["pass_at_1"] == 0.0
    finally:
        _stop_all([node])


def test_two_nodes_share_code_problems(tmp_path: Path) -> None:
    homes = {name: tmp_path / name for name in ("coord", "follower")}
    peers = {name: _identity(home) for name, home in homes.items()}
    rounds = ["--max-rounds", "2", "--stage-timeout", "120"]
    nodes: list[NodeProcess] = []
    try:
        coord = NodeProcess(
            "coord", homes["coord"], [*COMMON, *rounds, "--role", "coordinator", "--min-peers", "2"]
        )
        nodes.append(coord)
        started = coord.wait_for(lambda e: e["kind"] == "NodeStarted", timeout=120)
        follower = NodeProcess(
            "follower",
            homes["follower"],
            [
                *COMMON,
                *rounds,
                "--role",
                "follower",
                "--initial-peer",
                loopback_maddr(started),
                "--coordinator-peer-id",
                peers["coord"],
            ],
        )
        nodes.append(follower)
        for node in nodes:
            assert node.wait(timeout=420) == 0, node.describe()
        for node in nodes:
            stages = {e["round"]: e for e in node.of("StageFinished")}
            assert set(stages) == {0, 1}, node.name
            # round 0 has no swarm yet; in round 1 half the batch is problems the other node drew
            assert stages[0]["swarm_questions"] == 0 and stages[1]["swarm_questions"] == 2, node.name
            assert all(isinstance(e["pass_at_1"], float) for e in stages.values())
            finished = {e["round"]: e for e in node.of("RoundFinished")}
            # winners come from re-running both peers' published code in this node's sandbox
            assert set(finished[1]["winners"]) == set(peers.values()), node.name
    finally:
        _stop_all(nodes)


def test_join_refuses_without_a_sandbox(tmp_path: Path) -> None:
    """No bubblewrap on the PATH and no opt-in: one error line naming the fix, and no node starts."""
    bare = tmp_path / "bin"
    bare.mkdir()
    result = run_rlswarm(
        "--json", "join", "--profile", "local-code", "--port", "0", "--host", "127.0.0.1",
        env={"PATH": str(bare), "RLSWARM_HOME": str(tmp_path / "home")},
        timeout=120,
    )  # fmt: skip
    assert result.returncode == 1, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "Traceback" not in result.stderr, result.stderr
    assert "no sandbox for model-written code" in errors[0] and "code_sandbox: rlimits" in errors[0]
    assert '"NodeStarted"' not in result.stdout
