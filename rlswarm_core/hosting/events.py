"""Events of a swarm's infrastructure (bootnodes and the stage manager), on the engine's event bus."""

from __future__ import annotations

from dataclasses import dataclass

from rlswarm_core.swarm.events import Event


@dataclass(frozen=True)
class BootnodeUp(Event):
    peer_id: str
    maddrs: tuple[str, ...]


@dataclass(frozen=True)
class BootnodesPublished(Event):
    contract: str
    maddrs: tuple[str, ...]


@dataclass(frozen=True)
class StageManagerAdvanced(Event):
    """The stage manager moved the contract from (round, stage) to (to_round, to_stage)."""

    round: int
    stage: int
    to_round: int
    to_stage: int
    reason: str  # all | grace | timeout (the schedule)
    published: int


@dataclass(frozen=True)
class SwarmLooksStopped(Event):
    """No round progress and no live bootnode for ``quiet_s`` seconds."""

    swarm: str
    quiet_s: float
    round: int
    stage: int


@dataclass(frozen=True)
class SwarmResumed(Event):
    """A swarm reported stopped moved again: its clock advanced or a bootnode answers."""

    swarm: str
    round: int
    stage: int
