"""Fault tests: the RPC endpoint goes away mid-round; nothing is lost and nothing is sent twice."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from rlswarm_core.chain.devnet import STAGE_MANAGER_INDEX, Devnet, DevnetInfo, dev_key
from rlswarm_core.chain.errors import ChainUnavailable
from rlswarm_core.chain.proxy import ProxyClient
from rlswarm_core.chain.proxy_server import ProxyServer
from rlswarm_core.chain.queue import RetryWorker, SubmissionQueue
from rlswarm_core.chain.reader import CoordinatorReader
from rlswarm_core.chain.wallet import WalletClient
from tests.chain.helpers import fund, move_to_stage, new_peer

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def restartable(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Devnet]:
    """A devnet of its own whose anvil keeps its state on disk across a stop and a start."""
    chain = Devnet(state_path=tmp_path_factory.mktemp("anvil") / "state.json")
    chain.start()
    yield chain
    chain.stop()


def _reader(chain: Devnet) -> CoordinatorReader:
    info = chain.info
    assert info is not None
    return CoordinatorReader(info.rpc_url, info.contract, info.chain_id, timeout_s=2.0)


def _funded_wallet(reader: CoordinatorReader) -> WalletClient:
    from eth_account import Account

    wallet = WalletClient(reader, "0x" + Account.create().key.hex().removeprefix("0x"))
    fund(reader, wallet.address)
    return wallet


def _rewards_on_chain(reader: CoordinatorReader, peer: str) -> Counter[tuple[int, int]]:
    logs = reader.contract.events.RewardSubmitted().get_logs(from_block=0)
    return Counter(
        (e["args"]["roundNumber"], e["args"]["stageNumber"]) for e in logs if e["args"]["peerId"] == peer
    )


def _votes_on_chain(reader: CoordinatorReader, peer: str) -> Counter[int]:
    logs = reader.contract.events.WinnerSubmitted().get_logs(from_block=0)
    return Counter(e["args"]["roundNumber"] for e in logs if e["args"]["peerId"] == peer)


def test_wallet_submissions_survive_an_outage_and_a_restart(restartable: Devnet, tmp_path: Path) -> None:
    reader = _reader(restartable)
    wallet = _funded_wallet(reader)
    key = "0x" + wallet._account.key.hex().removeprefix("0x")
    peer, other = new_peer(), new_peer()
    wallet.register_peer(peer)
    rnd, stage = move_to_stage(WalletClient(reader, dev_key(STAGE_MANAGER_INDEX)), 1)
    queue = SubmissionQueue(tmp_path / "queue", wallet, reader, base_delay_s=0.05)

    assert queue.submit_reward(rnd, 0, 4, peer) == "sent"
    restartable.anvil.stop()
    assert queue.submit_reward(rnd, stage, 6, peer) == "queued"
    assert queue.submit_winners(rnd, [other, peer], peer) == "queued"
    assert queue.submit_reward(rnd, stage, 6, peer) == "queued"  # the same submission is not queued twice
    assert queue.submit_reward(rnd, stage, 1, other) == "queued"  # not ours: refused once the chain is back
    assert len(queue.pending()) == 3
    report = queue.drain(force=True)
    assert (report.sent, report.waiting) == (0, 3)
    assert all(e.attempts >= 1 and "cannot reach" in e.last_error for e in queue.pending())

    # A new process: fresh clients over the same state directory.
    restartable.anvil.start()
    reader2 = _reader(restartable)
    queue2 = SubmissionQueue(tmp_path / "queue", WalletClient(reader2, key), reader2)
    assert sorted(e.kind for e in queue2.pending()) == ["reward", "reward", "winners"]
    report = queue2.drain(force=True)
    assert (report.sent, report.already, report.failed) == (2, 0, 1)
    assert queue2.pending() == [] and queue2.drain(force=True).sent == 0
    [dropped] = queue2.failed()
    assert dropped.peer_id == other and "InvalidVoterPeerId" in dropped.last_error

    assert _rewards_on_chain(reader2, peer) == Counter({(rnd, 0): 1, (rnd, stage): 1})
    assert _votes_on_chain(reader2, peer) == Counter({rnd: 1})
    assert reader2.total_rewards([peer]) == [10]
    assert reader2.voter_votes(rnd, peer) == [other, peer]
    assert reader2.voter_vote_count(peer) == 1


def test_a_landed_call_whose_answer_was_lost_is_not_resent(restartable: Devnet, tmp_path: Path) -> None:
    reader = _reader(restartable)
    with ProxyServer(_funded_wallet(reader), "org-lost-answer") as server:
        ProxyClient(server.base_url, "org-lost-answer").register_peer(peer := new_peer())
        rnd, stage = reader.round_and_stage()
        # The proxy lands the transaction, but the client has stopped waiting for its answer.
        impatient = ProxyClient(server.base_url, "org-lost-answer", timeout_s=0.001, retries=0)
        queue = SubmissionQueue(tmp_path / "queue", impatient, reader, base_delay_s=0.01)
        assert queue.submit_reward(rnd, stage, 3, peer) == "queued"
        assert queue.submit_winners(rnd, [peer], peer) == "queued"
        deadline = time.monotonic() + 10
        while not (reader.reward_landed(rnd, stage, peer) and reader.vote_landed(rnd, peer)):
            assert time.monotonic() < deadline, "the proxy never landed the calls"
            time.sleep(0.05)
        report = queue.drain(force=True)
    assert (report.sent, report.already) == (0, 2)
    assert _rewards_on_chain(reader, peer) == Counter({(rnd, stage): 1})
    assert _votes_on_chain(reader, peer) == Counter({rnd: 1})


def test_proxy_mode_outage_is_replayed_by_the_retry_worker(restartable: Devnet, tmp_path: Path) -> None:
    reader = _reader(restartable)
    with ProxyServer(_funded_wallet(reader), "org-outage") as server:
        client = ProxyClient(server.base_url, "org-outage", reader=reader, retries=1, backoff_s=0.01)
        client.register_peer(peer := new_peer())
        manager = WalletClient(reader, dev_key(STAGE_MANAGER_INDEX))
        manager.update_stage_and_round()
        rnd, stage = reader.round_and_stage()

        restartable.anvil.stop()
        with pytest.raises(ChainUnavailable, match="HTTP 503"):
            client.submit_reward(rnd, stage, 1, peer)
        queue = SubmissionQueue(tmp_path / "queue", client, reader, base_delay_s=0.05, max_delay_s=0.2)
        assert queue.submit_reward(rnd, stage, 8, peer) == "queued"
        assert queue.submit_winners(rnd, [peer], peer) == "queued"
        worker = RetryWorker(queue, idle_poll_s=0.05).start()
        try:
            time.sleep(0.3)
            assert len(queue.pending()) == 2  # still down: kept, with backoff
            restartable.anvil.start()
            deadline = time.monotonic() + 20
            while queue.pending():
                assert time.monotonic() < deadline, "queued submissions were not replayed"
                time.sleep(0.05)
        finally:
            worker.stop()
    assert _rewards_on_chain(reader, peer) == Counter({(rnd, stage): 1})
    assert _votes_on_chain(reader, peer) == Counter({rnd: 1})
    assert reader.total_rewards([peer]) == [8]


def test_wrong_chain_id_is_refused_before_anything_is_sent(devnet: DevnetInfo) -> None:
    from rlswarm_core.chain.errors import WrongChain

    reader = CoordinatorReader(devnet.rpc_url, devnet.contract, 685685)
    wallet = WalletClient(reader, dev_key(STAGE_MANAGER_INDEX))
    right = CoordinatorReader(devnet.rpc_url, devnet.contract, devnet.chain_id)
    before = right.w3.eth.get_transaction_count(wallet.address)
    with pytest.raises(WrongChain, match="serves chain id 31337, but the network expects 685685"):
        wallet.update_stage_and_round()
    with pytest.raises(WrongChain):
        reader.current_round()
    assert right.w3.eth.get_transaction_count(wallet.address) == before
