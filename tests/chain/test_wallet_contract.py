"""Wallet mode against a real anvil chain: registration, submissions, every revert rule, totals."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from rlswarm_core.chain.devnet import OWNER_INDEX, DevnetInfo, dev_key
from rlswarm_core.chain.errors import ContractRevert, PeerIdTaken, WalletError
from rlswarm_core.chain.reader import CoordinatorReader
from rlswarm_core.chain.wallet import WalletClient
from tests.chain.helpers import move_to_stage, new_peer

NewWallet = Callable[[], WalletClient]


def _revert(excinfo: pytest.ExceptionInfo[ContractRevert], name: str) -> None:
    assert excinfo.value.name == name
    line = str(excinfo.value)
    assert "\n" not in line and name in line and "0x" not in line


def test_deployment_matches_the_devnet(devnet: DevnetInfo, reader: CoordinatorReader) -> None:
    assert reader.chain_id() == devnet.chain_id
    assert reader.stage_count() == 3
    assert reader.has_role("STAGE_MANAGER_ROLE", devnet.stage_manager)
    assert reader.has_role("OWNER_ROLE", devnet.owner)
    assert not reader.has_role("OWNER_ROLE", devnet.stage_manager)


def test_register_is_harmless_for_its_owner_and_refused_for_others(
    reader: CoordinatorReader, new_wallet: NewWallet
) -> None:
    alice, bob = new_wallet(), new_wallet()
    peer = new_peer()
    first = alice.register_peer(peer)
    assert not first.already_registered and first.tx_hash
    again = alice.register_peer(peer)
    assert again.already_registered and again.account == alice.address and again.tx_hash is None
    assert reader.owner(peer) == alice.address
    assert reader.peer_ids([alice.address]) == [[peer]]

    with pytest.raises(PeerIdTaken) as taken:
        bob.register_peer(peer)
    assert alice.address in str(taken.value) and bob.address in str(taken.value)
    # The contract itself enforces it too, whatever the client checks first.
    with pytest.raises(ContractRevert) as raw:
        bob.transact("registerPeer", peer)
    _revert(raw, "PeerIdAlreadyRegistered")
    assert reader.owner(peer) == alice.address


def test_reward_submission_and_its_revert_rules(
    reader: CoordinatorReader, stage_manager: WalletClient, new_wallet: NewWallet
) -> None:
    alice, bob = new_wallet(), new_wallet()
    peer = new_peer()
    alice.register_peer(peer)
    rnd, stage = move_to_stage(stage_manager, 1)

    tx = alice.submit_reward(rnd, stage, 7, peer)
    assert tx.block_number and tx.gas_used
    assert reader.has_submitted_reward(rnd, stage, alice.address)
    assert reader.round_stage_rewards(rnd, stage, [alice.address]) == [7]
    alice.submit_reward(rnd, 0, -2, peer)  # an earlier stage of the current round is allowed
    assert reader.total_rewards([peer]) == [5]

    with pytest.raises(ContractRevert) as dup:
        alice.submit_reward(rnd, stage, 7, peer)
    _revert(dup, "RewardAlreadySubmitted")
    with pytest.raises(ContractRevert) as future_round:
        alice.submit_reward(rnd + 1, 0, 1, peer)
    _revert(future_round, "InvalidRoundNumber")
    with pytest.raises(ContractRevert) as future_stage:
        alice.submit_reward(rnd, stage + 1, 1, peer)
    _revert(future_stage, "InvalidStageNumber")
    # beyond the stage count is the same error as ahead of the current stage, as on the live contract
    with pytest.raises(ContractRevert) as out_of_bounds:
        alice.submit_reward(rnd, 3, 1, peer)
    _revert(out_of_bounds, "InvalidStageNumber")
    with pytest.raises(ContractRevert) as not_owner:
        bob.submit_reward(rnd, 0, 1, peer)
    _revert(not_owner, "InvalidVoterPeerId")
    with pytest.raises(ContractRevert) as unregistered:
        bob.submit_reward(rnd, 0, 1, new_peer())
    _revert(unregistered, "InvalidVoterPeerId")
    assert reader.total_rewards([peer]) == [5]


def test_one_reward_per_account_and_stage_whichever_peer_submits(
    reader: CoordinatorReader, stage_manager: WalletClient, new_wallet: NewWallet
) -> None:
    """The live contract's rule: two peers registered to one account earn once per stage between them."""
    shared = new_wallet()
    first, second = new_peer(), new_peer()
    shared.register_peer(first)
    shared.register_peer(second)
    assert reader.peer_ids([shared.address]) == [[first, second]]
    rnd, stage = move_to_stage(stage_manager, 2)

    shared.submit_reward(rnd, stage, 4, first)
    with pytest.raises(ContractRevert) as refused:
        shared.submit_reward(rnd, stage, 9, second)
    _revert(refused, "RewardAlreadySubmitted")
    assert "account" in str(refused.value)
    assert reader.total_rewards([first, second]) == [4, 0]
    # another stage is another slot, for either peer
    shared.submit_reward(rnd, stage - 1, 9, second)
    assert reader.total_rewards([first, second]) == [4, 9]
    assert reader.reward_submitter(rnd, stage, shared.address) == first
    assert reader.reward_submitter(rnd, 0, shared.address) is None


def test_winner_votes_and_their_revert_rules(
    reader: CoordinatorReader, stage_manager: WalletClient, new_wallet: NewWallet
) -> None:
    alice, bob = new_wallet(), new_wallet()
    voter, winner_a, winner_b = new_peer(), new_peer(), new_peer()
    alice.register_peer(voter)
    rnd, _ = reader.round_and_stage()
    voted_before = reader.unique_voters()

    with pytest.raises(ContractRevert) as duplicate_winners:
        alice.submit_winners(rnd, [winner_a, winner_a], voter)
    _revert(duplicate_winners, "InvalidVote")
    with pytest.raises(ContractRevert) as future:
        alice.submit_winners(rnd + 1, [winner_a], voter)
    _revert(future, "InvalidRoundNumber")
    with pytest.raises(ContractRevert) as not_owner:
        bob.submit_winners(rnd, [winner_a], voter)
    _revert(not_owner, "InvalidVoterPeerId")

    alice.submit_winners(rnd, [winner_a, winner_b], voter)
    assert reader.voter_votes(rnd, voter) == [winner_a, winner_b]
    assert reader.vote_landed(rnd, voter)
    with pytest.raises(ContractRevert) as again:
        alice.submit_winners(rnd, [winner_b], voter)
    _revert(again, "WinnerAlreadyVoted")

    assert reader.total_wins(winner_a) == 1 and reader.total_wins(winner_b) == 1
    assert reader.peer_vote_count(rnd, winner_a) == 1
    assert reader.voter_vote_count(voter) == 1
    assert reader.unique_voters() == voted_before + 1

    # A vote for a past round is still accepted once per round.
    stage_manager.update_stage_and_round()
    move_to_stage(stage_manager, 0)
    alice.submit_winners(rnd + 1, [winner_a], voter)
    assert reader.total_wins(winner_a) == 2
    assert reader.voter_vote_count(voter) == 2


def test_an_empty_vote_is_accepted_and_counts_as_the_vote(
    reader: CoordinatorReader, stage_manager: WalletClient, new_wallet: NewWallet
) -> None:
    alice = new_wallet()
    voter, winner = new_peer(), new_peer()
    alice.register_peer(voter)
    rnd, _ = reader.round_and_stage()
    alice.submit_winners(rnd, [], voter)
    assert reader.voter_votes(rnd, voter) == []
    assert reader.voter_vote_count(voter) == 1
    with pytest.raises(ContractRevert) as again:
        alice.submit_winners(rnd, [winner], voter)
    _revert(again, "WinnerAlreadyVoted")
    assert reader.total_wins(winner) == 0


def new_peer_owned(wallet: WalletClient) -> str:
    peer = new_peer()
    wallet.register_peer(peer)
    return peer


def test_totals_and_leaderboards(
    reader: CoordinatorReader, stage_manager: WalletClient, new_wallet: NewWallet
) -> None:
    wallets = [new_wallet() for _ in range(3)]
    peers = [new_peer_owned(w) for w in wallets]
    a, b, c = peers
    rnd, _ = move_to_stage(stage_manager, 0)
    wallets[0].submit_winners(rnd, [b, c], a)
    wallets[1].submit_winners(rnd, [b], b)
    wallets[2].submit_winners(rnd, [c, b], c)
    for wallet, peer, reward in zip(wallets, peers, (3, 9, 6), strict=True):
        wallet.submit_reward(rnd, 0, reward, peer)

    assert reader.total_rewards(peers) == [3, 9, 6]
    assert [reader.total_wins(p) for p in peers] == [0, 3, 2]
    board = [e for e in reader.winner_leaderboard(0, 10_000) if e.peer_id in peers]
    assert [(e.peer_id, e.count) for e in board] == [(b, 3), (c, 2)]
    everyone = reader.winner_leaderboard(0, 10_000)
    assert [e.count for e in everyone] == sorted((e.count for e in everyone), reverse=True)
    assert len(everyone) == reader.unique_voted_peers()
    assert reader.winner_leaderboard(0, 1)[0].count == everyone[0].count
    assert reader.winner_leaderboard(5, 2) == []
    voters = {e.peer_id: e.count for e in reader.voter_leaderboard(0, 10_000)}
    assert all(voters[p] == 1 for p in peers)
    assert len(voters) == reader.unique_voters()


def test_stage_manager_and_bootnode_roles(
    devnet: DevnetInfo, reader: CoordinatorReader, stage_manager: WalletClient, new_wallet: NewWallet
) -> None:
    stranger = new_wallet()
    before = reader.round_and_stage()
    with pytest.raises(ContractRevert) as not_manager:
        stranger.update_stage_and_round()
    _revert(not_manager, "OnlyStageManager")
    stage_manager.update_stage_and_round()
    after = reader.round_and_stage()
    assert after == ((before[0], before[1] + 1) if before[1] < 2 else (before[0] + 1, 0))

    owner = WalletClient(reader, dev_key(OWNER_INDEX))
    owner.transact("clearBootnodes")
    owner.add_bootnodes(["/ip4/127.0.0.1/tcp/38331/p2p/QmA", "/ip4/127.0.0.1/tcp/38332/p2p/QmB"])
    assert reader.bootnodes() == ["/ip4/127.0.0.1/tcp/38331/p2p/QmA", "/ip4/127.0.0.1/tcp/38332/p2p/QmB"]
    owner.transact("removeBootnode", 0)
    assert reader.bootnodes() == ["/ip4/127.0.0.1/tcp/38332/p2p/QmB"]
    with pytest.raises(ContractRevert) as bad_index:
        owner.transact("removeBootnode", 5)
    _revert(bad_index, "InvalidBootnodeIndex")
    with pytest.raises(ContractRevert) as not_bootnode_manager:
        stranger.add_bootnodes(["/ip4/10.0.0.1/tcp/1"])
    _revert(not_bootnode_manager, "OnlyBootnodeManager")
    with pytest.raises(ContractRevert) as not_owner:
        stranger.grant_role("STAGE_MANAGER_ROLE", stranger.address)
    _revert(not_owner, "OnlyOwner")
    with pytest.raises(ContractRevert) as reinit:
        stranger.transact("initialize", stranger.address)
    _revert(reinit, "InvalidInitialization")
    owner.transact("clearBootnodes")
    assert reader.bootnodes() == []


def test_gas_cap_is_enforced(reader: CoordinatorReader, new_wallet: NewWallet) -> None:
    wallet = new_wallet()
    capped = WalletClient(reader, dev_key(OWNER_INDEX), gas_cap=30_000)
    with pytest.raises(WalletError, match="above the cap of 30000"):
        capped.add_bootnodes(["/ip4/127.0.0.1/tcp/1/p2p/" + "Q" * 200])
    assert wallet.register_peer(new_peer()).tx_hash  # an uncapped wallet is unaffected


def test_nonces_stay_consistent_under_concurrency(reader: CoordinatorReader, new_wallet: NewWallet) -> None:
    wallet = new_wallet()
    twin = WalletClient(
        reader, "0x" + wallet._account.key.hex().removeprefix("0x")
    )  # another process, same key
    peers = [new_peer() for _ in range(6)]
    errors: list[BaseException] = []

    def register(client: WalletClient, peer: str) -> None:
        try:
            client.register_peer(peer)
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [
        threading.Thread(target=register, args=(wallet if i % 2 else twin, p)) for i, p in enumerate(peers)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sorted(reader.peer_ids([wallet.address])[0]) == sorted(peers)


def test_non_integer_reward_is_refused(new_wallet: NewWallet) -> None:
    from rlswarm_core.chain.errors import ChainError

    with pytest.raises(ChainError, match="reward must be an integer"):
        new_wallet().submit_reward(0, 0, 1.5, new_peer())  # type: ignore[arg-type]
