"""Typed engine events and a small publish/subscribe bus.

The engine never prints: it emits these events, and the UI, the event log and the metrics exporter
subscribe. A failing subscriber never breaks the engine.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Event:
    at: float = field(default_factory=time.time, kw_only=True)

    @property
    def kind(self) -> str:
        return type(self).__name__


@dataclass(frozen=True)
class Joined(Event):
    peer_id: str
    maddrs: tuple[str, ...]
    initial_peers: tuple[str, ...]
    client_mode: bool


@dataclass(frozen=True)
class Left(Event):
    peer_id: str


@dataclass(frozen=True)
class StageStarted(Event):
    round: int
    stage: int
    late_join: bool = False


@dataclass(frozen=True)
class StageSkipped(Event):
    """The node fell behind the coordinator and jumped ahead; emitted once per jump."""

    from_round: int
    from_stage: int
    to_round: int
    to_stage: int


@dataclass(frozen=True)
class OutputsPublished(Event):
    round: int
    stage: int
    questions: int


@dataclass(frozen=True)
class RewardsPublished(Event):
    round: int
    stage: int
    reward: float
    steps: int


@dataclass(frozen=True)
class OutputsGathered(Event):
    round: int
    stage: int
    peers: int
    missing: tuple[str, ...]
    malformed: int
    seconds: float


@dataclass(frozen=True)
class LeaderboardChanged(Event):
    round: int
    stage: int
    top: tuple[tuple[str, float], ...]


@dataclass(frozen=True)
class PeerCountChanged(Event):
    round: int
    stage: int
    peers: int
    previous: int


@dataclass(frozen=True)
class StageClosed(Event):
    """The clock's node ended a stage: every live peer published (``all``), the grace after
    ``min_peers`` ran out (``grace``), or the stage timeout (``timeout``); ``missing`` are the live
    peers it stopped waiting for (see :mod:`rlswarm_core.swarm.liveness`)."""

    round: int
    stage: int
    reason: str
    published: int
    expected: int
    missing: tuple[str, ...]
    waited_s: float


@dataclass(frozen=True)
class ClaimFlagged(Event):
    """A peer's claimed reward disagrees with what its published outputs earn (``what``: one output's
    claim, or the stage reward above its best output); it is ranked by ``recomputed``."""

    round: int
    stage: int
    peer_id: str
    claimed: float
    recomputed: float
    what: str


@dataclass(frozen=True)
class OutputsDropped(Event):
    """A peer published more outputs for a stage than a node reads (count or bytes); the rest is dropped."""

    round: int
    stage: int
    peer_id: str
    dropped: int
    dropped_bytes: int


@dataclass(frozen=True)
class MalformedRecords(Event):
    key: str
    count: int


@dataclass(frozen=True)
class ReachabilityChecked(Event):
    """A peer dialled this node back (see :mod:`rlswarm_core.swarm.reachability`): ``reachable`` is
    None when no peer could be asked (``reason``); ``fix`` is what the operator should do, if anything."""

    reachable: bool | None
    asked: str
    address: str
    tried: tuple[str, ...]
    observed: str
    reason: str
    fix: str


@dataclass(frozen=True)
class SwarmErrorEvent(Event):
    """A recoverable failure (a DHT call that failed after retries); the node keeps running."""

    operation: str
    message: str


Subscriber = Callable[[Event], None]


class EventBus:
    """Synchronous fan-out to callbacks and queues; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscribers: list[Subscriber] = []
        self.subscriber_errors = 0

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        with self._lock:
            self._subscribers.append(callback)

        def unsubscribe() -> None:
            with self._lock:
                if callback in self._subscribers:
                    self._subscribers.remove(callback)

        return unsubscribe

    def queue(self, maxsize: int = 10_000) -> queue.Queue[Event]:
        """A queue that receives every later event; when full, new events are dropped, never blocking."""
        events: queue.Queue[Event] = queue.Queue(maxsize=maxsize)

        def put(event: Event) -> None:
            try:
                events.put_nowait(event)
            except queue.Full:
                self.subscriber_errors += 1

        self.subscribe(put)
        return events

    def emit(self, event: Event) -> None:
        with self._lock:
            subscribers = list(self._subscribers)
        for callback in subscribers:
            try:
                callback(event)
            except Exception:
                # a broken UI or exporter must not stop training; the count makes it visible
                self.subscriber_errors += 1


def drain(events: queue.Queue[Event]) -> list[Event]:
    out: list[Event] = []
    while True:
        try:
            out.append(events.get_nowait())
        except queue.Empty:
            return out
