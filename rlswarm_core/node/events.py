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
class StartupPhase(Event):
    """What a starting node is doing: "loading the model", "starting the DHT", "joining the swarm"."""

    phase: str


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
    # of those, questions taken from peers' rollouts (rollout sharing)
    swarm_questions: int = 0
    # share of the stage's replies that passed every test (task families that run tests; else None)
    pass_at_1: float | None = None


@dataclass(frozen=True)
class RoundFinished(Event):
    round: int
    reward: float
    winners: tuple[str, ...]
    vote: tuple[str, ...]
    pass_at_1: float | None = None


@dataclass(frozen=True)
class CheckpointSaved(Event):
    round: int
    path: str


@dataclass(frozen=True)
class CheckpointFailed(Event):
    round: int
    message: str


@dataclass(frozen=True)
class CheckpointSkipped(Event):
    """A resuming node passed over a damaged checkpoint (left on disk) for an older intact one."""

    round: int
    path: str
    reason: str


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


@dataclass(frozen=True)
class JournalRepaired(Event):
    """The journal ended in a torn line (a crash mid-write); the fragment was cut off before appending."""

    path: str
    removed_bytes: int


@dataclass(frozen=True)
class JournalWriteFailed(Event):
    """The journal cannot be written (a full disk, say). Emitted once when it starts failing, with events
    kept in memory meanwhile; and once more at shutdown if ``unwritten`` events could never be written."""

    path: str
    message: str
    unwritten: int = 0


@dataclass(frozen=True)
class JournalRecovered(Event):
    """The journal could be written again; ``written`` events kept in memory went in, ``dropped`` did not
    fit the memory buffer and are missing from it."""

    path: str
    written: int
    dropped: int = 0
