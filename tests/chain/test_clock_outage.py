"""The chain clock through an outage: anvil stopped and restarted with its state. The clock answers from
its last read, says it waits, keeps an advance it could not send and sends it exactly once."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from rlswarm_core.chain.clock import ChainClock
from rlswarm_core.chain.coordinator import ChainCoordinator
from rlswarm_core.chain.devnet import STAGE_MANAGER_INDEX, Devnet, dev_key
from rlswarm_core.chain.queue import SubmissionOutcome, SubmissionQueue
from rlswarm_core.chain.reader import CoordinatorReader
from rlswarm_core.chain.wallet import WalletClient
from rlswarm_core.swarm.coordinator import RoundStage
from rlswarm_core.swarm.events import EventBus, drain
from tests.chain.helpers import fund, new_peer

pytestmark = pytest.mark.slow


@pytest.fixture
def restartable(tmp_path: Path) -> Iterator[Devnet]:
    chain = Devnet(state_path=tmp_path / "anvil-state.json")
    chain.start()
    yield chain
    chain.stop()


def test_the_clock_waits_through_an_outage_and_advances_once(restartable: Devnet, tmp_path: Path) -> None:
    info = restartable.info
    assert info is not None
    reader = CoordinatorReader(info.rpc_url, info.contract, info.chain_id, timeout_s=2.0)
    bus = EventBus()
    seen = bus.queue()
    manager = WalletClient(reader, dev_key(STAGE_MANAGER_INDEX))
    leader = ChainCoordinator(ChainClock(reader), manager, events=bus, retry_min_s=0.05, retry_max_s=0.2)
    follower = ChainCoordinator(ChainClock(reader), events=bus, retry_min_s=0.05, retry_max_s=0.2)
    start = leader.current()
    assert start == RoundStage(0, 0) == follower.current()
    assert [e.kind for e in drain(seen)] == ["StageStarted", "StageStarted"]

    # a peer's reward queued while the chain is down, drained once it is back
    from eth_account import Account

    wallet = WalletClient(reader, "0x" + Account.create().key.hex().removeprefix("0x"))
    fund(reader, wallet.address)
    peer = new_peer()
    wallet.register_peer(peer)
    queue = SubmissionQueue(tmp_path / "queue", wallet, reader, base_delay_s=0.05)
    settled: list[SubmissionOutcome] = []
    queue.subscribe(settled.append)

    restartable.anvil.stop()
    assert follower.current() == start  # the last read, not an exception
    assert follower.waiting_for_chain
    assert leader.advance() == start  # could not be sent: kept
    assert queue.submit_reward(0, 0, 7, peer) == "queued"
    outages = [e for e in drain(seen) if e.kind == "ChainUnavailable"]
    assert len(outages) == 2 and "cannot reach the chain RPC endpoint" in outages[0].message
    assert "…" not in outages[0].message and outages[0].message.count("(") == outages[0].message.count(")")
    # polling during the outage neither raises nor piles up events
    assert follower.wait_for_change(start, timeout=0.5, poll_min_s=0.05) is None
    assert not [e for e in drain(seen) if e.kind == "ChainUnavailable"]

    restartable.anvil.start()
    moved = start.next(3)
    assert leader.wait_for_change(start, timeout=30, poll_min_s=0.05) == moved
    assert follower.wait_for_change(start, timeout=30, poll_min_s=0.05) == moved
    assert not leader.waiting_for_chain and not follower.waiting_for_chain
    after = [e.kind for e in drain(seen)]
    assert after.count("ChainRecovered") == 2
    assert after.count("StageStarted") == 2  # once per clock, for the one stage it moved
    # the advance went out once: polling again does not move the clock a second time
    assert leader.current() == moved and reader.round_and_stage() == (moved.round, moved.stage)

    report = queue.drain(force=True)
    assert (report.sent, report.already, report.failed) == (1, 0, 0)
    assert settled == [SubmissionOutcome("reward", 0, 0, "sent")]
    logs = reader.contract.events.RewardSubmitted().get_logs(from_block=0)
    assert [(e["args"]["peerId"], e["args"]["reward"]) for e in logs] == [(peer, 7)]
