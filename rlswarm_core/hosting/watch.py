"""A ``--swarm`` node's watch on its swarm's infrastructure: when the contract's clock has not moved and
no bootnode has answered for ``quiet_s`` seconds, the swarm's host has most likely stopped serving it.

The node says so once (:class:`SwarmLooksStopped`) and once more when the swarm moves again
(:class:`SwarmResumed`); it keeps running either way, so a host that comes back finds its nodes there.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from rlswarm_core.hosting.events import SwarmLooksStopped, SwarmResumed

# how often the watch looks, at most: a 30-minute threshold needs no finer grain
MAX_POLL_S = 60.0
MIN_POLL_S = 0.2


class SwarmWatch:
    def __init__(
        self,
        swarm: str,
        read_clock: Callable[[], tuple[int, int]],
        bootnodes: Callable[[], list[str]],
        reachable: Callable[[str], bool],
        *,
        quiet_s: float,
        events: Any,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.swarm = swarm
        self.read_clock = read_clock
        self.bootnodes = bootnodes
        self.reachable = reachable
        self.quiet_s = quiet_s
        self.events = events
        self.monotonic = monotonic
        self.poll_s = min(MAX_POLL_S, max(MIN_POLL_S, quiet_s / 10))
        self.clock: tuple[int, int] | None = None
        self.last_progress = monotonic()
        self.stopped = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def check(self) -> None:
        """One look: progress (a clock move or a live bootnode) resets the quiet time."""
        from rlswarm_core.errors import RlswarmError

        now = self.monotonic()
        try:
            clock: tuple[int, int] | None = self.read_clock()
        except RlswarmError:
            clock = None  # an unreachable chain shows no progress; the chain's own events say why
        moved = clock is not None and self.clock is not None and clock != self.clock
        if clock is not None:
            self.clock = clock
        try:
            live = any(self.reachable(maddr) for maddr in self.bootnodes())
        except RlswarmError:
            live = False
        round_, stage = self.clock or (-1, -1)
        if moved or live:
            self.last_progress = now
            if self.stopped:
                self.stopped = False
                self.events.emit(SwarmResumed(swarm=self.swarm, round=round_, stage=stage))
        elif not self.stopped and now - self.last_progress >= self.quiet_s:
            self.stopped = True
            self.events.emit(
                SwarmLooksStopped(swarm=self.swarm, quiet_s=self.quiet_s, round=round_, stage=stage)
            )

    def start(self) -> SwarmWatch:
        self._thread = threading.Thread(target=self._run, name="swarm-watch", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.poll_s):
            try:
                self.check()
            except Exception:  # the watch must never take the node down
                continue

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)


def watch_swarm(swarm: Any, settings: Any, events: Any) -> SwarmWatch:
    """The watch for a node of ``swarm``, reading the contract from ``settings`` (rpc_url, contract)."""
    from rlswarm_core.chain.reader import CoordinatorReader
    from rlswarm_core.hosting.status import tcp_reachable

    # a reader of its own: the watch's thread never shares a connection with the node's chain calls
    reader = CoordinatorReader(settings.rpc_url, settings.contract, settings.chain_id)
    listed = list(swarm.bootnodes)

    def bootnodes() -> list[str]:
        from rlswarm_core.errors import RlswarmError

        try:
            published = reader.bootnodes()
        except RlswarmError:
            published = []  # the chain is unreachable: the file's own bootnodes can still answer
        return [*listed, *(m for m in published if m and m not in listed)]

    return SwarmWatch(
        swarm.name,
        reader.round_and_stage,
        bootnodes,
        lambda maddr: tcp_reachable(maddr, timeout_s=2.0),
        quiet_s=settings.swarm_stopped_after_s,
        events=events,
    )
