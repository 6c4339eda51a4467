"""``rewards --source dht`` against a real DHT node publishing signed records, and ``--source chain``
against the real local chain (anvil) with the coordinator contract."""

from __future__ import annotations

import json
from pathlib import Path

import psutil
import pytest

from rlswarm_core.chain.devnet import DevnetInfo
from rlswarm_core.identity.keys import create_identity
from rlswarm_core.swarm.coordinator import DHTCoordinator, RoundStage
from rlswarm_core.swarm.dht import DHTOptions, start_node
from rlswarm_core.swarm.events import EventBus
from rlswarm_core.swarm.exchange import Exchange
from rlswarm_core.swarm.records import LeaderEntry
from tests.helpers import Cli


def test_dht_source_reads_published_rewards_and_the_leaderboard(tmp_path: Path, cli: Cli) -> None:
    ident = create_identity(tmp_path / "publisher.pem")
    node = start_node(
        DHTOptions(identity_path=ident.path, host="127.0.0.1", port=0, rpc_timeout_s=2.0), EventBus()
    )
    daemons = [psutil.Process(pid) for pid in node.daemon_pids()]
    try:
        DHTCoordinator(node, 3, is_coordinator=True, start=RoundStage(1, 1))
        exchange = Exchange(node)
        for (r, s), reward in {(0, 0): 1.5, (0, 1): 0.5, (0, 2): 2.0, (1, 0): 3.0}.items():
            assert exchange.publish_reward(RoundStage(r, s), reward, steps=2)
        entries = [
            LeaderEntry(peer_id=create_identity(tmp_path / "other.pem").peer_id, reward=9.0),
            LeaderEntry(peer_id=ident.peer_id, reward=3.0),
        ]
        assert exchange.publish_leaderboard(RoundStage(1, 1), entries)
        maddr = next(m for m in node.visible_maddrs() if "/127.0.0.1/" in m)
        done = cli(
            "rewards", "--source", "dht", "--peer", ident.peer_id, "--initial-peer", maddr,
            "--coordinator-peer-id", ident.peer_id, "--json",
        )  # fmt: skip
        assert done.exit_code == 0, done.stderr
        (mine,) = json.loads(done.stdout)["nodes"]
        assert mine["source"] == "dht" and mine["peer_id"] == ident.peer_id
        assert [(s["round"], s["stage"], s["reward"]) for s in mine["stages"]] == [
            (0, 0, 1.5), (0, 1, 0.5), (0, 2, 2.0), (1, 0, 3.0),
        ]  # fmt: skip
        assert mine["total"] == 7.0 and (mine["round"], mine["stage"]) == (1, 1)
        assert (mine["rank"], mine["leaderboard_size"]) == (2, 2)
    finally:
        node.shutdown()
    psutil.wait_procs(daemons, timeout=10)
    assert not any(p.is_running() and p.status() != psutil.STATUS_ZOMBIE for p in daemons)


def test_dht_source_without_any_peer_is_one_line(cli: Cli) -> None:
    done = cli("rewards", "--source", "dht", "--peer", "QmX")
    assert done.exit_code == 1 and "no peer to reach the swarm through" in done.stderr


def test_chain_source_reads_totals_wins_and_votes(devnet: DevnetInfo, new_wallet, cli: Cli) -> None:  # type: ignore[no-untyped-def]
    from tests.chain.helpers import new_peer

    wallet = new_wallet()
    peer = new_peer()
    wallet.register_peer(peer)
    round_number, stage = wallet.reader.round_and_stage()
    wallet.submit_reward(round_number, stage, 42, peer)
    wallet.submit_winners(round_number, [peer], peer)
    done = cli(
        "rewards", "--source", "chain", "--peer", peer, "--network", "devnet",
        "--rpc-url", devnet.rpc_url, "--contract", devnet.contract, "--json",
    )  # fmt: skip
    assert done.exit_code == 0, done.stderr
    (mine,) = json.loads(done.stdout)["nodes"]
    assert (mine["total"], mine["wins"], mine["votes"]) == (42.0, 1, 1)
    assert (mine["round"], mine["stage"]) == (round_number, stage)


def test_chain_source_needs_a_chain(cli: Cli) -> None:
    done = cli("rewards", "--source", "chain", "--peer", "QmX", "--network", "local")
    assert done.exit_code == 1 and "has no chain" in done.stderr


@pytest.fixture
def new_wallet(devnet: DevnetInfo):  # type: ignore[no-untyped-def]
    from eth_account import Account

    from rlswarm_core.chain.reader import CoordinatorReader
    from rlswarm_core.chain.wallet import WalletClient
    from rlswarm_core.secrets.redact import register_secret
    from tests.chain.helpers import fund

    reader = CoordinatorReader(devnet.rpc_url, devnet.contract, devnet.chain_id)

    def make() -> WalletClient:
        key = "0x" + Account.create().key.hex().removeprefix("0x")
        register_secret(key)
        wallet = WalletClient(reader, key)
        fund(reader, wallet.address)
        return wallet

    return make
