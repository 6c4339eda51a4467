"""The chain endpoint goes away mid-run: anvil is stopped while two ``rlswarm join`` nodes train on the
chain clock, then restarted with its state. Neither node exits; the clock waits, the rewards queued
meanwhile land once each."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import psutil
import pytest

from rlswarm_core.chain.devnet import STAGE_MANAGER_INDEX, Devnet, dev_key
from rlswarm_core.chain.reader import CoordinatorReader
from rlswarm_core.identity.keys import create_identity
from tests.node.procs import NodeProcess, loopback_maddr

pytestmark = pytest.mark.slow

ROUNDS = 2
FOLLOWER_KEY_INDEX = 8


def test_nodes_ride_out_a_chain_outage(tmp_path: Path) -> None:
    chain = Devnet(state_path=tmp_path / "anvil-state.json")
    info = chain.start()
    homes = {name: tmp_path / name for name in ("coord", "follower")}
    peers = {
        name: create_identity(home / "data" / "identities" / "default.pem").peer_id
        for name, home in homes.items()
    }
    common = ["--profile", "local-tiny", "--host", "127.0.0.1", "--port", "0", "--max-rounds", str(ROUNDS)]
    common += ["--network", "devnet", "--rpc-url", info.rpc_url, "--contract", info.contract]
    nodes: list[NodeProcess] = []
    try:
        coord = NodeProcess(
            "coord",
            homes["coord"],
            [*common, "--role", "coordinator", "--stage-timeout", "120", "--min-peers", "2"],
            env={"RLSWARM_WALLET_PRIVATE_KEY": dev_key(STAGE_MANAGER_INDEX)},
        )
        nodes.append(coord)
        started = coord.wait_for(lambda e: e["kind"] == "NodeStarted", timeout=120)
        follower = NodeProcess(
            "follower",
            homes["follower"],
            [*common, "--role", "follower", "--initial-peer", loopback_maddr(started)],
            env={"RLSWARM_WALLET_PRIVATE_KEY": dev_key(FOLLOWER_KEY_INDEX)},
        )
        nodes.append(follower)
        # the endpoint goes away while both nodes train on the chain clock, mid-stage for the follower
        coord.wait_for(lambda e: e["kind"] == "StageFinished", timeout=240)
        follower.wait_for(
            lambda e: e["kind"] == "StepDone" and e["round"] == 0 and e["step"] == 1, timeout=240
        )
        chain.stop()
        # down until the follower's clock has noticed (it polls the chain while it waits for the next stage)
        follower.wait_for(lambda e: e["kind"] == "ChainUnavailable", timeout=120)
        assert all(node.proc.poll() is None for node in nodes), [n.describe() for n in nodes]
        chain.anvil.start()
        for node in nodes:
            assert node.wait(timeout=300) == 0, node.describe()
            assert len(node.of("ChainRecovered")) == len(node.of("ChainUnavailable")), node.name
    finally:
        procs = [p for node in nodes for p in node.tree()]
        for node in nodes:
            node.stop(timeout=30)
        _, alive = psutil.wait_procs(procs, timeout=15)
        chain.stop()
        assert not alive, f"processes left behind: {alive}"

    reader = CoordinatorReader(info.rpc_url, info.contract, info.chain_id)
    chain.anvil.start()
    try:
        logs = reader.contract.events.RewardSubmitted().get_logs(from_block=0)
        landed = Counter(
            (e["args"]["peerId"], e["args"]["roundNumber"], e["args"]["stageNumber"]) for e in logs
        )
        for name, peer in peers.items():
            for r in range(ROUNDS):
                for s in range(3):
                    assert landed[(peer, r, s)] == 1, (name, r, s, landed)
    finally:
        chain.stop()
