"""A swarm without a chain: `swarm create --no-chain` lists its bootnodes in the file, `swarm serve` keeps
the round/stage clock on the DHT (signed by the bootnode the file names), and two `join --swarm` nodes
train a round on it with no --initial-peer and no contract."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.hosting.host import ServeProcess, rlswarm, stop_all
from tests.instances.ports import free_port_block
from tests.node.procs import NodeProcess

pytestmark = pytest.mark.slow


def test_two_nodes_train_a_round_on_a_dht_only_swarm(tmp_path: Path) -> None:
    from rlswarm_core.hosting.swarmfile import load_swarm_file

    env = {**os.environ, "RLSWARM_HOME": str(tmp_path / "host")}
    path = tmp_path / "club.toml"
    port = free_port_block(1)
    rlswarm(
        env, "swarm", "create", str(path), "--name", "club", "--no-chain", "--model", "builtin:tiny-qwen2",
        "--set", "steps_per_stage=1", "--set", "questions_per_round=2", "--host", "127.0.0.1",
        "--port", str(port), "--min-peers", "2", "--grace", "60", "--max-stage-seconds", "300",
    )  # fmt: skip
    swarm = load_swarm_file(path)
    assert swarm.chain is None
    assert swarm.bootnodes == [f"/ip4/127.0.0.1/tcp/{port}/p2p/{swarm.coordinator_peer_id}"]

    serve = ServeProcess(env, path, max_rounds=1)
    nodes: list[NodeProcess] = []
    try:
        serve.wait_for("BootnodeUp", timeout=120)
        for i in range(2):
            args = ["--swarm", str(path), "--profile", "local-tiny", "--host", "127.0.0.1", "--port", "0"]
            nodes.append(NodeProcess(f"node{i}", tmp_path / f"node{i}", [*args, "--max-rounds", "1"]))
        for node in nodes:
            assert node.wait(timeout=420) == 0, node.describe()
        assert serve.proc.wait(timeout=120) == 0, "".join(serve.stderr)[-2000:]
    finally:
        stop_all(nodes, serve)

    advanced = [(e["round"], e["stage"], e["published"]) for e in serve.of("StageManagerAdvanced")]
    assert advanced == [(0, stage, 2) for stage in range(3)]  # each stage closed on both nodes' rewards
    for node in nodes:
        assert [e["round"] for e in node.of("RoundFinished")] == [0], node.describe()
        assert not node.of("ChainSubmitted")
