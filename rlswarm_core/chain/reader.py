"""Read-only access to the coordinator contract over JSON-RPC (both wallet and proxy modes read here)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from rlswarm_core.chain.abi import coordinator_abi
from rlswarm_core.chain.errors import ChainError, ChainUnavailable, WrongChain, chain_failure
from rlswarm_core.errors import ConfigError

T = TypeVar("T")
DEFAULT_TIMEOUT_S = 10.0
# how far back a reward's log is looked for (public providers cap the block range of a log query)
LOG_LOOKBACK_BLOCKS = 10_000
ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"


@dataclass(frozen=True)
class LeaderboardEntry:
    peer_id: str
    count: int


def make_web3(rpc_url: str, timeout_s: float = DEFAULT_TIMEOUT_S) -> Any:
    from web3 import Web3

    # web3's own retries would hide an outage for many seconds; the submission queue retries instead.
    provider = Web3.HTTPProvider(
        rpc_url, request_kwargs={"timeout": timeout_s}, exception_retry_configuration=None
    )
    return Web3(provider)


def checksum(address: str, what: str = "address") -> str:
    from web3 import Web3

    try:
        return Web3.to_checksum_address(address)
    except (ValueError, TypeError):
        raise ConfigError(f"{what} {address!r} is not a valid 0x-prefixed 20-byte address") from None


class CoordinatorReader:
    """The contract's views; the chain id (when given) and the contract are checked on first use."""

    def __init__(
        self,
        rpc_url: str,
        contract: str,
        chain_id: int | None = None,
        *,
        timeout_s: float = DEFAULT_TIMEOUT_S,
    ) -> None:
        self.rpc_url = rpc_url
        self.address = checksum(contract, "contract address")
        self.expected_chain_id = chain_id
        self.w3 = make_web3(rpc_url, timeout_s)
        self.contract = self.w3.eth.contract(address=self.address, abi=coordinator_abi())
        self._checked = False
        self._check_lock = threading.Lock()

    # ----- plumbing -----

    def rpc(self, fn: Callable[[], T], what: str) -> T:
        """Run one RPC call, turning transport failures and reverts into chain errors."""
        try:
            return fn()
        except Exception as exc:
            hint = "check the endpoint and your connection; queued submissions are retried"
            raise chain_failure(exc, what, self.rpc_url, hint) from None

    def ensure_chain(self) -> None:
        if self._checked:
            return
        with self._check_lock:
            if self._checked:
                return
            actual = self.rpc(lambda: int(self.w3.eth.chain_id), "read the chain id")
            if self.expected_chain_id is not None and actual != self.expected_chain_id:
                raise WrongChain(
                    f"the RPC endpoint {self.rpc_url} serves chain id {actual}, "
                    f"but the network expects {self.expected_chain_id}",
                    "point --rpc-url at the right network, or pick the --network that matches it",
                )
            code = self.rpc(lambda: self.w3.eth.get_code(self.address), "read the contract code")
            if not code:
                raise ChainError(
                    f"there is no contract at {self.address} on chain {actual}",
                    "check the contract address for this network",
                )
            self._checked = True

    def call(self, name: str, *args: Any) -> Any:
        self.ensure_chain()
        return self.rpc(lambda: self.contract.functions[name](*args).call(), f"call {name}")

    # ----- views -----

    def chain_id(self) -> int:
        return self.rpc(lambda: int(self.w3.eth.chain_id), "read the chain id")

    def current_round(self) -> int:
        return int(self.call("currentRound"))

    def current_stage(self) -> int:
        return int(self.call("currentStage"))

    def round_and_stage(self) -> tuple[int, int]:
        # Two calls pinned to one block so that a stage change between them cannot mix two states.
        self.ensure_chain()
        block = self.rpc(lambda: self.w3.eth.block_number, "read the block number")
        fns = self.contract.functions
        rnd = self.rpc(lambda: fns.currentRound().call(block_identifier=block), "call currentRound")
        stage = self.rpc(lambda: fns.currentStage().call(block_identifier=block), "call currentStage")
        return int(rnd), int(stage)

    def stage_count(self) -> int:
        return int(self.call("stageCount"))

    def bootnodes(self) -> list[str]:
        return list(self.call("getBootnodes"))

    def peer_ids(self, accounts: Sequence[str]) -> list[list[str]]:
        return [list(ids) for ids in self.call("getPeerId", [checksum(a) for a in accounts])]

    def owners(self, peer_ids: Sequence[str]) -> list[str | None]:
        """The account holding each peer id, or None where it is unregistered."""
        found = self.call("getEoa", list(peer_ids))
        return [None if addr == ZERO_ADDRESS else str(addr) for addr in found]

    def owner(self, peer_id: str) -> str | None:
        return self.owners([peer_id])[0]

    def total_rewards(self, peer_ids: Sequence[str]) -> list[int]:
        return [int(v) for v in self.call("getTotalRewards", list(peer_ids))]

    def total_wins(self, peer_id: str) -> int:
        return int(self.call("getTotalWins", peer_id))

    def voter_vote_count(self, peer_id: str) -> int:
        return int(self.call("getVoterVoteCount", peer_id))

    def voter_votes(self, round_number: int, peer_id: str) -> list[str]:
        return list(self.call("getVoterVotes", round_number, peer_id))

    def peer_vote_count(self, round_number: int, peer_id: str) -> int:
        return int(self.call("getPeerVoteCount", round_number, peer_id))

    def has_submitted_reward(self, round_number: int, stage: int, account: str) -> bool:
        return bool(self.call("hasSubmittedRoundStageReward", round_number, stage, checksum(account)))

    def round_stage_rewards(self, round_number: int, stage: int, accounts: Sequence[str]) -> list[int]:
        values = self.call("getRoundStageReward", round_number, stage, [checksum(a) for a in accounts])
        return [int(v) for v in values]

    def unique_voters(self) -> int:
        return int(self.call("uniqueVoters"))

    def unique_voted_peers(self) -> int:
        return int(self.call("uniqueVotedPeers"))

    def winner_leaderboard(self, start: int = 0, end: int = 10) -> list[LeaderboardEntry]:
        ids, wins = self.call("winnerLeaderboard", start, end)
        return [LeaderboardEntry(p, int(w)) for p, w in zip(ids, wins, strict=True)]

    def voter_leaderboard(self, start: int = 0, end: int = 10) -> list[LeaderboardEntry]:
        ids, votes = self.call("voterLeaderboard", start, end)
        return [LeaderboardEntry(p, int(v)) for p, v in zip(ids, votes, strict=True)]

    def has_role(self, role: str, account: str) -> bool:
        role_id = self.call(role)
        return bool(self.call("hasRole", role_id, checksum(account)))

    # ----- has a submission landed? (asked before a queued submission is resent) -----

    def reward_landed(self, round_number: int, stage: int, peer_id: str) -> bool | None:
        """True/False when the chain can tell; None when it cannot (the contract then refuses a duplicate).

        The contract records submissions per account; an account holding several peer ids cannot say which
        of them submitted, so the answer is only definite for single-peer accounts.
        """
        account = self.owner(peer_id)
        if account is None:
            return False
        if not self.has_submitted_reward(round_number, stage, account):
            return False
        if len(self.peer_ids([account])[0]) == 1:
            return True
        try:
            submitter = self.reward_submitter(round_number, stage, account)
        except ChainUnavailable:
            raise
        except ChainError:
            return None
        return None if submitter is None else submitter == peer_id

    def reward_submitter(self, round_number: int, stage: int, account: str) -> str | None:
        """The peer id that used ``account``'s reward for (round, stage), from the contract's
        ``RewardSubmitted`` log in the last ``LOG_LOOKBACK_BLOCKS`` blocks; None when none is found."""
        self.ensure_chain()
        latest = int(self.rpc(lambda: self.w3.eth.block_number, "read the block number"))
        event = self.contract.events.RewardSubmitted()
        filters = {"account": checksum(account), "roundNumber": round_number, "stageNumber": stage}
        logs = self.rpc(
            lambda: event.get_logs(
                argument_filters=filters, from_block=max(0, latest - LOG_LOOKBACK_BLOCKS), to_block=latest
            ),
            "read the reward logs",
        )
        return str(logs[0]["args"]["peerId"]) if logs else None

    def reward_submitters(self, round_number: int, stage: int) -> set[str]:
        """The peer ids with a ``RewardSubmitted`` log for (round, stage) in the last
        ``LOG_LOOKBACK_BLOCKS`` blocks: who the chain has seen publish for that stage."""
        self.ensure_chain()
        latest = int(self.rpc(lambda: self.w3.eth.block_number, "read the block number"))
        event = self.contract.events.RewardSubmitted()
        filters = {"roundNumber": round_number, "stageNumber": stage}
        logs = self.rpc(
            lambda: event.get_logs(
                argument_filters=filters, from_block=max(0, latest - LOG_LOOKBACK_BLOCKS), to_block=latest
            ),
            "read the reward logs",
        )
        return {str(entry["args"]["peerId"]) for entry in logs}

    def vote_landed(self, round_number: int, peer_id: str) -> bool:
        return len(self.voter_votes(round_number, peer_id)) > 0
