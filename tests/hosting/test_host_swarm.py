"""A hosted swarm end to end on a real anvil chain: `swarm create` and `swarm deploy` with the operator's
wallet, `swarm serve` running a bootnode and the stage manager, and three `join --swarm` nodes that find
the bootnode on the contract (no --initial-peer) and train two rounds, every reward and vote landing on
chain exactly once. Then the swarm, its server gone, reports itself stopped."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from rlswarm_core.chain.devnet import Devnet, DevnetInfo, dev_key
from rlswarm_core.identity.keys import create_identity
from tests.hosting.host import ROUNDS, ServeProcess, create_and_deploy, host_env, rlswarm, stop_all
from tests.node.procs import NodeProcess

pytestmark = pytest.mark.slow

HOST_KEY_INDEX = 3
NODE_KEY_INDEXES = (5, 6, 7)


@pytest.fixture(scope="module")
def fresh_chain() -> Iterator[DevnetInfo]:
    with Devnet() as info:
        yield info


def test_three_nodes_join_a_hosted_swarm(tmp_path: Path, fresh_chain: DevnetInfo) -> None:
    from rlswarm_core.chain.reader import CoordinatorReader
    from rlswarm_core.hosting.swarmfile import load_swarm_file

    env = host_env(tmp_path / "host", dev_key(HOST_KEY_INDEX))
    swarm_path = tmp_path / "swarm.yaml"
    deployed = create_and_deploy(env, swarm_path, fresh_chain.rpc_url, min_peers=3)
    swarm = load_swarm_file(swarm_path)
    assert swarm.chain is not None and swarm.chain.contract == deployed["contract"]
    assert swarm.chain.code_hash == deployed["code_hash"] and not swarm.bootnodes

    serve = ServeProcess(env, swarm_path)
    nodes: list[NodeProcess] = []
    try:
        published = serve.wait_for("BootnodesPublished", timeout=120)[0]
        reader = CoordinatorReader(fresh_chain.rpc_url, deployed["contract"], fresh_chain.chain_id)
        assert reader.bootnodes() == list(published["maddrs"])
        running = rlswarm(env, "swarm", "status", str(swarm_path))
        assert running["looks_stopped"] is False and all(b["reachable"] for b in running["bootnodes"])
        peers = {}
        for i, key_index in enumerate(NODE_KEY_INDEXES):
            home = tmp_path / f"node{i}"
            peers[i] = create_identity(home / "data" / "identities" / "default.pem").peer_id
            nodes.append(
                NodeProcess(
                    f"node{i}",
                    home,
                    [
                        "--swarm",
                        str(swarm_path),
                        "--profile",
                        "local-tiny",
                        "--host",
                        "127.0.0.1",
                        "--port",
                        "0",
                        "--max-rounds",
                        str(ROUNDS),
                        "--stage-timeout",
                        "120",
                    ],
                    env={"RLSWARM_WALLET_PRIVATE_KEY": dev_key(key_index)},
                )
            )
        for node in nodes:
            assert node.wait(timeout=420) == 0, node.describe()
        assert serve.proc.wait(timeout=120) == 0, "".join(serve.stderr)[-2000:]
    finally:
        stop_all(nodes, serve)

    assert reader.round_and_stage() == (ROUNDS, 0)
    advanced = [(e["round"], e["stage"]) for e in serve.of("StageManagerAdvanced")]
    assert advanced == [(r, s) for r in range(ROUNDS) for s in range(3)]
    for i, node in enumerate(nodes):
        peer = peers[i]
        for r in range(ROUNDS):
            for s in range(3):
                assert reader.reward_landed(r, s, peer), f"node{i}: no reward for round {r} stage {s}"
            assert reader.vote_landed(r, peer), f"node{i}: no vote in round {r}"
        sent = [e for e in node.of("ChainSubmitted") if e["status"] in ("sent", "already")]
        assert len([e for e in sent if e["what"] == "reward"]) == ROUNDS * 3
        assert len([e for e in sent if e["what"] == "winners"]) == ROUNDS
    assert reader.unique_voters() == len(NODE_KEY_INDEXES)

    # the server is gone: no bootnode answers and the clock has not moved since
    stopped = rlswarm(env, "swarm", "status", str(swarm_path), "--stopped-after", "0")
    assert stopped["looks_stopped"] is True
    assert stopped["bootnodes"] and not any(b["reachable"] for b in stopped["bootnodes"])
    assert stopped["submissions"]["1/2"] == len(NODE_KEY_INDEXES)
