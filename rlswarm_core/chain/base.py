"""What wallet mode and proxy mode have in common: the write calls and their results."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class TxResult:
    """A landed call. Proxy mode knows only what the proxy reports, so every field may be missing."""

    tx_hash: str | None
    block_number: int | None = None
    gas_used: int | None = None


@dataclass(frozen=True)
class RegisterResult:
    peer_id: str
    account: str | None
    already_registered: bool
    tx_hash: str | None = None


class Submitter(Protocol):
    """Sends coordinator transactions: :class:`WalletClient` signs them, :class:`ProxyClient` asks a proxy."""

    def register_peer(self, peer_id: str) -> RegisterResult: ...

    def submit_reward(self, round_number: int, stage: int, reward: int, peer_id: str) -> TxResult: ...

    def submit_winners(self, round_number: int, winners: Sequence[str], peer_id: str) -> TxResult: ...


def check_reward(value: object) -> int:
    """The contract takes an int256; refuse floats rather than silently truncating them."""
    from rlswarm_core.chain.errors import ChainError

    if isinstance(value, bool) or not isinstance(value, int):
        raise ChainError(
            f"reward must be an integer, got {type(value).__name__}", "round it before submitting"
        )
    return value
