"""The swarm engine's :class:`Coordinator` backed by the chain clock.

Every node reads (round, stage) from the contract; only a node given the stage manager's wallet may
advance it. The chain never stops the node: while the RPC endpoint is unreachable the clock answers with
the last (round, stage) it read, retries with exponential backoff for as long as the node runs, and
says so with :class:`~rlswarm_core.chain.events.ChainUnavailable` and
:class:`~rlswarm_core.chain.events.ChainRecovered` events. An advance that could not be sent is kept
and sent once the endpoint is back, unless the clock moved meanwhile (so a stage is never skipped).
Other chain failures (a wrong chain, a missing contract) surface as :class:`SwarmError`.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from rlswarm_core.chain import events as chain_events
from rlswarm_core.chain.clock import ChainClock
from rlswarm_core.chain.errors import ChainError, ChainUnavailable
from rlswarm_core.chain.wallet import WalletClient
from rlswarm_core.swarm.coordinator import Coordinator, RoundStage
from rlswarm_core.swarm.errors import NotCoordinatorError, SwarmError
from rlswarm_core.swarm.events import EventBus, StageStarted

RETRY_MIN_S = 1.0
RETRY_MAX_S = 5.0


class ChainCoordinator(Coordinator):
    def __init__(
        self,
        clock: ChainClock,
        stage_manager: WalletClient | None = None,
        *,
        events: EventBus | None = None,
        retry_min_s: float = RETRY_MIN_S,
        retry_max_s: float = RETRY_MAX_S,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.clock = clock
        self.stage_manager = stage_manager
        self.events = events or EventBus()
        self.retry_min_s = retry_min_s
        self.retry_max_s = retry_max_s
        self._now = monotonic
        self._last: RoundStage | None = None
        self._down_since: float | None = None
        self._retry_at = 0.0
        self._delay = retry_min_s
        # the stage an advance must leave, while that advance could not be sent
        self._pending_advance: RoundStage | None = None
        try:
            self.stage_count = clock.stage_count()
            self._read()
        except ChainError as exc:
            # at start-up there is no last known stage to fall back on
            raise SwarmError(exc.message, exc.hint) from None

    @property
    def can_advance(self) -> bool:
        """Whether this node may move the clock (it holds the stage manager's wallet)."""
        return self.stage_manager is not None

    @property
    def waiting_for_chain(self) -> bool:
        """True while the endpoint is unreachable and the clock answers from its last read."""
        return self._down_since is not None

    def current(self) -> RoundStage:
        assert self._last is not None
        if self._down_since is not None and self._now() < self._retry_at:
            return self._last
        try:
            if self._pending_advance is not None:
                self._send_advance()
            self._read()
        except ChainUnavailable as exc:
            self._outage("read the round and stage", exc)
        except ChainError as exc:
            raise SwarmError(exc.message, exc.hint) from None
        return self._last

    def advance(self) -> RoundStage:
        if self.stage_manager is None:
            raise NotCoordinatorError(
                "only the contract's stage manager advances the on-chain round/stage clock",
                "rounds advance on their own on a public network; on a devnet use the stage manager key",
            )
        assert self._last is not None
        self._pending_advance = self._last
        self._retry_at = 0.0  # try now, even during an outage
        return self.current()

    # ----- internals -----

    def _read(self) -> RoundStage:
        rnd, stage = self.clock.current()
        self._recovered()
        now = RoundStage(rnd, stage)
        if now != self._last:
            # the same event the DHT clock emits, so the panel, the journal and the metrics follow it
            late = self._last is None and now != RoundStage(0, 0)
            self._last = now
            self.events.emit(StageStarted(round=now.round, stage=now.stage, late_join=late))
        return now

    def _send_advance(self) -> None:
        """Advance from the pending stage, unless the chain already left it (an earlier attempt landed
        though its answer was lost, or another stage manager moved it)."""
        assert self._pending_advance is not None and self.stage_manager is not None
        if self._read() == self._pending_advance:
            self.stage_manager.update_stage_and_round()
        self._pending_advance = None

    def _outage(self, operation: str, exc: ChainUnavailable) -> None:
        now = self._now()
        if self._down_since is None:
            self._down_since = now
            self._delay = self.retry_min_s
            self.events.emit(
                chain_events.ChainUnavailable(
                    operation=operation, message=exc.message, retry_in_s=self._delay
                )
            )
        else:
            self._delay = min(self._delay * 2, self.retry_max_s)
        self._retry_at = now + self._delay

    def _recovered(self) -> None:
        if self._down_since is None:
            return
        down = self._now() - self._down_since
        self._down_since = None
        self._delay = self.retry_min_s
        self.events.emit(chain_events.ChainRecovered(down_s=round(down, 3)))
