"""The stage manager: advances the swarm contract's stage when the live peers have submitted, or on the
swarm's schedule, one stage at a time.

It holds no state of its own: on every start it reads (round, stage) from the contract and waits on
that stage, and every advance is sent only while the chain still shows the stage it leaves
(:class:`~rlswarm_core.chain.coordinator.ChainCoordinator`). A restart mid-round therefore neither
skips a stage nor advances one twice.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from rlswarm_core.hosting.events import StageManagerAdvanced


class StageManager:
    def __init__(
        self,
        coordinator: Any,
        read_publishers: Callable[[Any], set[str]],
        *,
        own_peer: str,
        min_peers: int,
        grace_s: float,
        max_stage_s: float,
        events: Any,
        first_poll_s: float = 0.5,
    ) -> None:
        self.coordinator = coordinator
        self.own_peer = own_peer
        # the manager never trains: it counts as one published peer so the liveness gate's "the node itself
        # is live" holds, and min_peers counts the training peers only
        self._read = lambda rs: {own_peer, *read_publishers(rs)}
        self.min_peers = min_peers + 1
        self.grace_s = grace_s
        self.max_stage_s = max_stage_s
        self.events = events
        self.first_poll_s = first_poll_s

    def run(self, stop: threading.Event, max_rounds: int | None = None) -> None:
        from rlswarm_core.swarm.liveness import wait_for_stage

        count = self.coordinator.stage_count
        while not stop.is_set():
            rs = self.coordinator.current()
            if max_rounds is not None and rs.round >= max_rounds:
                return
            closed = wait_for_stage(
                self._read,
                rs,
                rs.previous(count),
                own_peer=self.own_peer,
                min_peers=self.min_peers,
                grace_s=self.grace_s,
                timeout_s=self.max_stage_s,
                stop=stop,
                first_poll_s=self.first_poll_s,
            )
            if closed.reason == "stopped":
                return
            after = self.coordinator.advance()
            if after != rs:
                self.events.emit(
                    StageManagerAdvanced(
                        round=rs.round,
                        stage=rs.stage,
                        to_round=after.round,
                        to_stage=after.stage,
                        reason=closed.reason,
                        published=len(closed.published - {self.own_peer}),
                    )
                )
