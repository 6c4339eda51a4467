"""The swarm engine's :class:`Coordinator` backed by the chain clock.

Every node reads (round, stage) from the contract; only a node given the stage manager's wallet may
advance it. Chain failures surface as :class:`SwarmError` so that the engine handles them like DHT ones.
"""

from __future__ import annotations

from rlswarm_core.chain.clock import ChainClock
from rlswarm_core.chain.errors import ChainError
from rlswarm_core.chain.wallet import WalletClient
from rlswarm_core.swarm.coordinator import Coordinator, RoundStage
from rlswarm_core.swarm.errors import NotCoordinatorError, SwarmError


class ChainCoordinator(Coordinator):
    def __init__(self, clock: ChainClock, stage_manager: WalletClient | None = None) -> None:
        self.clock = clock
        self.stage_manager = stage_manager
        try:
            self.stage_count = clock.stage_count()
        except ChainError as exc:
            raise SwarmError(exc.message, exc.hint) from None

    @property
    def can_advance(self) -> bool:
        """Whether this node may move the clock (it holds the stage manager's wallet)."""
        return self.stage_manager is not None

    def current(self) -> RoundStage:
        try:
            rnd, stage = self.clock.current()
        except ChainError as exc:
            raise SwarmError(exc.message, exc.hint) from None
        return RoundStage(rnd, stage)

    def advance(self) -> RoundStage:
        if self.stage_manager is None:
            raise NotCoordinatorError(
                "only the contract's stage manager advances the on-chain round/stage clock",
                "rounds advance on their own on a public network; on a devnet use the stage manager key",
            )
        try:
            self.stage_manager.update_stage_and_round()
        except ChainError as exc:
            raise SwarmError(exc.message, exc.hint) from None
        return self.current()
