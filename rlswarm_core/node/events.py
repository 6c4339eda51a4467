"""Events of a running node beyond the swarm's own (training, rounds, checkpoints, chain).

They share the swarm's :class:`~rlswarm_core.swarm.events.Event` base and bus, so one subscriber (the
event journal, the live panel, the metrics exporter) sees everything a node does.
"""

from __future__ import annotations

from dataclasses import dataclass

from rlswarm_core.swarm.events import Event


@dataclass(frozen=True)
class NodeStarted(Event):
    peer_id: str
    animal_name: str
    model: str
    profile: str
    device: str
    dtype: str
    role: str
    maddrs: tuple[str, ...] = ()


@dataclass(frozen=True)
class Resumed(Event):
    round: int
    checkpoint: str


@dataclass(frozen=True)
class StepDone(Event):
    round: int
    stage: int
    step: int
    steps: int
    reward: float
    tokens_per_second: float


@dataclass(frozen=True)
class StageFinished(Event):
    round: int
    stage: int
    reward: float
    steps: int
    seconds: float
    questions: int


@dataclass(frozen=True)
class RoundFinished(Event):
    round: int
    reward: float
    winners: tuple[str, ...]
    vote: tuple[str, ...]


@dataclass(frozen=True)
class CheckpointSaved(Event):
    round: int
    path: str


@dataclass(frozen=True)
class CheckpointFailed(Event):
    round: int
    message: str


@dataclass(frozen=True)
class ChainSubmitted(Event):
    what: str  # "reward" | "winners"
    round: int
    stage: int
    status: str  # "sent" | "already" | "queued" | "failed"
    message: str = ""
    # why a failed submission failed, when known (e.g. "account_already_submitted": a shared wallet)
    reason: str = ""


@dataclass(frozen=True)
class NodeStopped(Event):
    reason: str
    rounds: int
