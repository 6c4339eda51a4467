"""Events of the background pushes, on the same bus as the node's other events."""

from __future__ import annotations

from dataclasses import dataclass

from rlswarm_core.swarm.events import Event


@dataclass(frozen=True)
class PushStarted(Event):
    round: int
    repo_id: str


@dataclass(frozen=True)
class PushDone(Event):
    round: int
    repo_id: str
    url: str
    commit: str
    files: int
    bytes: int
    seconds: float
    attempts: int


@dataclass(frozen=True)
class PushFailed(Event):
    round: int
    repo_id: str
    message: str
    attempt: int
    will_retry: bool
    retry_in_s: float = 0.0
