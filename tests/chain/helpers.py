"""Helpers for the chain tests."""

from __future__ import annotations

import uuid

from rlswarm_core.chain.reader import CoordinatorReader
from rlswarm_core.chain.wallet import WalletClient


def fund(reader: CoordinatorReader, address: str) -> None:
    reader.w3.provider.make_request("anvil_setBalance", [address, hex(10**20)])


def new_peer() -> str:
    return "Qm" + uuid.uuid4().hex


def move_to_stage(stage_manager: WalletClient, stage: int) -> tuple[int, int]:
    """Advance the shared chain until the current stage is ``stage``; return (round, stage)."""
    reader = stage_manager.reader
    current = reader.round_and_stage()
    while current[1] != stage:
        stage_manager.update_stage_and_round()
        current = reader.round_and_stage()
    return current
