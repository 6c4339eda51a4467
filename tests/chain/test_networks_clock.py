"""Named networks, and the chain clock reading round and stage from the contract."""

from __future__ import annotations

import json
import threading
import time

import pytest

from rlswarm_core.chain.clock import ChainClock
from rlswarm_core.chain.devnet import DevnetInfo
from rlswarm_core.chain.networks import (
    TESTNET_CHAIN_ID,
    TESTNET_CONTRACT,
    devnet_state_path,
    resolve_network,
)
from rlswarm_core.chain.reader import CoordinatorReader
from rlswarm_core.chain.wallet import WalletClient
from rlswarm_core.errors import ConfigError


def test_testnet_is_chain_685685_with_the_reference_contract() -> None:
    testnet = resolve_network("testnet")
    assert testnet.chain_id == TESTNET_CHAIN_ID == 685685
    assert testnet.contract == TESTNET_CONTRACT
    assert testnet.rpc_url and testnet.rpc_url.startswith("https://")
    custom = resolve_network("testnet", rpc_url="https://rpc.example", contract="0x" + "ab" * 20)
    assert custom.rpc_url == "https://rpc.example" and custom.chain_id == 685685


def test_local_has_no_chain_and_unknown_names_are_refused() -> None:
    with pytest.raises(ConfigError, match="has no chain"):
        resolve_network("local").require_chain()
    with pytest.raises(ConfigError, match="unknown network 'mainnet'"):
        resolve_network("mainnet")


def test_devnet_reads_the_running_devnet_state(devnet: DevnetInfo) -> None:
    with pytest.raises(ConfigError, match="devnet up"):
        resolve_network("devnet").require_chain()
    path = devnet_state_path()
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(devnet.as_dict()))
    net = resolve_network("devnet").require_chain()
    assert (net.rpc_url, net.contract, net.chain_id) == (devnet.rpc_url, devnet.contract, devnet.chain_id)


def test_invalid_contract_address_is_one_clear_line(devnet: DevnetInfo) -> None:
    with pytest.raises(ConfigError, match="not a valid 0x-prefixed 20-byte address"):
        CoordinatorReader(devnet.rpc_url, "0x1234", devnet.chain_id)


def test_chain_clock_follows_the_stage_manager(
    reader: CoordinatorReader, stage_manager: WalletClient
) -> None:
    clock = ChainClock(reader)
    assert clock.stage_count() == 3
    start = clock.current()
    assert clock.wait_for_change(start, timeout_s=0.2, poll_s=0.05) is None

    advance = threading.Timer(0.3, stage_manager.update_stage_and_round)
    advance.start()
    began = time.monotonic()
    changed = clock.wait_for_change(start, timeout_s=10, poll_s=0.05)
    advance.join()
    assert changed == clock.current() != start
    assert time.monotonic() - began < 5
    expected = (start[0], start[1] + 1) if start[1] + 1 < 3 else (start[0] + 1, 0)
    assert changed == expected


def test_chain_coordinator_implements_the_swarm_interface(
    devnet: DevnetInfo, reader: CoordinatorReader, stage_manager: WalletClient
) -> None:
    import socket

    from rlswarm_core.chain.coordinator import ChainCoordinator
    from rlswarm_core.swarm.coordinator import Coordinator, RoundStage
    from rlswarm_core.swarm.errors import NotCoordinatorError, SwarmError

    follower = ChainCoordinator(ChainClock(reader))
    leader = ChainCoordinator(ChainClock(reader), stage_manager)
    assert isinstance(follower, Coordinator) and follower.stage_count == 3
    start = follower.current()
    assert isinstance(start, RoundStage)
    with pytest.raises(NotCoordinatorError):
        follower.advance()
    moved = leader.advance()
    assert moved == start.next(3) == follower.current()
    assert follower.wait_for_change(start, timeout=0.1, poll_min_s=0.02) == moved

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    down = CoordinatorReader(f"http://127.0.0.1:{port}", devnet.contract, devnet.chain_id)
    with pytest.raises(SwarmError, match="cannot reach the chain RPC endpoint"):
        ChainCoordinator(ChainClock(down))
