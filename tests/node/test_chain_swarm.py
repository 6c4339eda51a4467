"""The swarm end to end with the on-chain clock: two nodes follow the coordinator contract on a real
anvil chain, the coordinator node advances it with the stage manager's wallet, and every reward and
vote lands on chain exactly once."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from rlswarm_core.chain.devnet import STAGE_MANAGER_INDEX, Devnet, DevnetInfo, dev_key
from rlswarm_core.identity.keys import create_identity
from tests.node.procs import NodeProcess, loopback_maddr

pytestmark = pytest.mark.slow

ROUNDS = 2
FOLLOWER_KEY_INDEX = 7


@pytest.fixture(scope="module")
def fresh_chain() -> Iterator[DevnetInfo]:
    """A chain of its own: the shared session devnet's clock is moved by other tests."""
    with Devnet() as info:
        yield info


def test_two_nodes_on_the_chain_clock(tmp_path: Path, fresh_chain: DevnetInfo) -> None:
    from rlswarm_core.chain.reader import CoordinatorReader

    chain = ["--network", "devnet", "--rpc-url", fresh_chain.rpc_url, "--contract", fresh_chain.contract]
    common = [
        "--profile",
        "local-tiny",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--max-rounds",
        str(ROUNDS),
        *chain,
    ]
    homes = {name: tmp_path / name for name in ("coord", "follower")}
    peers = {
        name: create_identity(home / "data" / "identities" / "default.pem").peer_id
        for name, home in homes.items()
    }
    nodes: list[NodeProcess] = []
    try:
        coord = NodeProcess(
            "coord",
            homes["coord"],
            [*common, "--role", "coordinator", "--stage-timeout", "90", "--min-peers", "2"],
            env={"RLSWARM_WALLET_PRIVATE_KEY": dev_key(STAGE_MANAGER_INDEX)},
        )
        nodes.append(coord)
        started = coord.wait_for(lambda e: e["kind"] == "NodeStarted", timeout=120)
        follower = NodeProcess(
            "follower",
            homes["follower"],
            [
                *common,
                "--role",
                "follower",
                "--initial-peer",
                loopback_maddr(started),
                "--stage-timeout",
                "120",
            ],
            env={"RLSWARM_WALLET_PRIVATE_KEY": dev_key(FOLLOWER_KEY_INDEX)},
        )
        nodes.append(follower)
        for node in nodes:
            assert node.wait(timeout=420) == 0, node.describe()
    finally:
        procs = [p for node in nodes for p in node.tree()]
        for node in nodes:
            node.stop(timeout=30)
        _, alive = psutil.wait_procs(procs, timeout=15)
        assert not alive, f"processes left behind: {alive}"

    reader = CoordinatorReader(fresh_chain.rpc_url, fresh_chain.contract, fresh_chain.chain_id)
    assert reader.round_and_stage() == (ROUNDS, 0)
    for name, node in (("coord", coord), ("follower", follower)):
        peer = peers[name]
        assert reader.owner(peer) is not None, f"{name} did not register"
        for r in range(ROUNDS):
            for s in range(3):
                assert reader.reward_landed(r, s, peer), f"{name}: no reward for round {r} stage {s}"
            assert reader.vote_landed(r, peer), f"{name}: no vote in round {r}"
        sent = [e for e in node.of("ChainSubmitted") if e["status"] in ("sent", "already")]
        assert len([e for e in sent if e["what"] == "reward"]) == ROUNDS * 3
        assert len([e for e in sent if e["what"] == "winners"]) == ROUNDS
        # The node followed the contract's clock through every stage.
        stages = {(e["round"], e["stage"]) for e in node.of("StageFinished")}
        assert stages == {(r, s) for r in range(ROUNDS) for s in range(3)}
    assert reader.unique_voters() == 2
