"""The chain clock: round and stage as the coordinator contract reports them."""

from __future__ import annotations

import time

from rlswarm_core.chain.reader import CoordinatorReader


class ChainClock:
    """``current() -> (round, stage)`` read from the contract, for the swarm engine's coordinator.

    The stage manager advances the contract; nodes only read. Both values come from the same block.
    """

    def __init__(self, reader: CoordinatorReader) -> None:
        self.reader = reader
        self._stage_count: int | None = None

    def current(self) -> tuple[int, int]:
        return self.reader.round_and_stage()

    def stage_count(self) -> int:
        if self._stage_count is None:
            # stageCount is pure in the contract: read it once.
            self._stage_count = self.reader.stage_count()
        return self._stage_count

    def wait_for_change(
        self, previous: tuple[int, int], *, timeout_s: float, poll_s: float = 1.0
    ) -> tuple[int, int] | None:
        """Poll until (round, stage) differs from ``previous``; None if it has not by ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        while True:
            now = self.current()
            if now != previous:
                return now
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            time.sleep(min(poll_s, remaining))
