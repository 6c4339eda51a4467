"""Which peers the clock's node waits for before it ends a stage: the liveness rule.

The rule (documented for operators in the README):

* A peer is **live** for stage S when it published a reward record for S or for the stage before S.
  The node itself is always live. Nothing else counts: a peer that is merely connected (in the
  routing table) but never publishes is not waited for.
* Once at least ``min_peers`` peers (the node included) have published for S, the clock ends S as
  soon as every live peer has, and ``grace_s`` seconds later at the latest. Until ``min_peers`` is
  reached it waits, for ``timeout_s`` at most.
* A peer that misses S is not live for S+1 (it published for neither S nor S+1 by then), so a departed
  peer costs the swarm one grace period, once; it is live again from the stage it next publishes for.

Everything here is a pure function of what the node read from the DHT, except :func:`wait_for_stage`,
which does the reading and the waiting.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal

DEFAULT_GRACE_S = 20.0
MAX_POLL_S = 2.0

CloseReason = Literal["all", "grace", "timeout", "stopped"]


@dataclass(frozen=True)
class StageClose:
    """Why and when a stage ended on the clock's node."""

    reason: CloseReason
    published: frozenset[str]
    expected: frozenset[str]
    waited_s: float

    @property
    def missing(self) -> tuple[str, ...]:
        return tuple(sorted(self.expected - self.published))


def live_peers(own_peer: str, previous: Iterable[str], current: Iterable[str]) -> frozenset[str]:
    """The peers a stage waits for: the node itself and whoever published for this or the last stage."""
    return frozenset({own_peer, *previous, *current})


class StageGate:
    """The closing rule for one stage, fed with successive reads of who has published.

    ``observe(published, now)`` answers the reason to close now, or None to keep waiting. ``now`` is a
    monotonic time in seconds; the gate starts counting at the first observation.
    """

    def __init__(
        self,
        own_peer: str,
        previous: Iterable[str],
        *,
        min_peers: int,
        grace_s: float,
        timeout_s: float,
    ) -> None:
        self.own_peer = own_peer
        self.previous = frozenset(previous)
        self.min_peers = max(1, min_peers)
        self.grace_s = grace_s
        self.timeout_s = timeout_s
        self.started: float | None = None
        self.min_reached_at: float | None = None
        self.expected: frozenset[str] = frozenset({own_peer})
        self.published: frozenset[str] = frozenset()

    def observe(self, published: Iterable[str], now: float) -> CloseReason | None:
        self.published = frozenset(published)
        if self.started is None:
            self.started = now
        self.expected = live_peers(self.own_peer, self.previous, self.published)
        if len(self.published) >= self.min_peers:
            if self.expected <= self.published:
                return "all"
            if self.min_reached_at is None:
                self.min_reached_at = now
            if now - self.min_reached_at >= self.grace_s:
                return "grace"
        if now - self.started >= self.timeout_s:
            return "timeout"
        return None

    def close(self, reason: CloseReason, now: float) -> StageClose:
        return StageClose(reason, self.published, self.expected, now - (self.started or now))


def wait_for_stage(
    read_publishers: Callable[[Any], Iterable[str]],
    rs: Any,
    previous_rs: Any | None,
    *,
    own_peer: str,
    min_peers: int,
    grace_s: float,
    timeout_s: float,
    stop: threading.Event,
    first_poll_s: float,
    monotonic: Callable[[], float] = time.monotonic,
) -> StageClose:
    """Poll ``read_publishers(rs)`` (the peers with a reward record for ``rs``) until the gate closes.

    The previous stage's publishers are read once, at the start: they are the peers the swarm expects
    back. Polls back off from ``first_poll_s`` to ``MAX_POLL_S`` but never sleep past a deadline.
    """
    previous = frozenset(read_publishers(previous_rs)) if previous_rs is not None else frozenset()
    gate = StageGate(own_peer, previous, min_peers=min_peers, grace_s=grace_s, timeout_s=timeout_s)
    delay = first_poll_s
    while True:
        now = monotonic()
        reason = gate.observe(read_publishers(rs), now)
        if reason is not None:
            return gate.close(reason, now)
        if stop.is_set():
            return gate.close("stopped", now)
        # wake up for whichever deadline comes first, so the grace is kept to the poll interval
        deadlines = [gate.started + timeout_s] if gate.started is not None else []
        if gate.min_reached_at is not None:
            deadlines.append(gate.min_reached_at + grace_s)
        left = min(deadlines, default=now + delay) - now
        stop.wait(max(0.0, min(delay, left)))
        delay = min(delay * 1.5, MAX_POLL_S)
