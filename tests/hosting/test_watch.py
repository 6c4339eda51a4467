"""The swarm watch's rule on a scripted clock: quiet for quiet_s -> one SwarmLooksStopped; a clock move
or a bootnode that answers -> one SwarmResumed."""

from __future__ import annotations

from rlswarm_core.chain.errors import ChainUnavailable
from rlswarm_core.hosting.watch import SwarmWatch
from rlswarm_core.swarm.events import EventBus


def test_watch_reports_once_and_resolves() -> None:
    now = [0.0]
    clock: list[object] = [(3, 1)]
    live = {"/ip4/127.0.0.1/tcp/1": False}
    seen: list[object] = []
    bus = EventBus()
    bus.subscribe(seen.append)

    def read_clock() -> tuple[int, int]:
        if isinstance(clock[0], Exception):
            raise clock[0]
        return clock[0]  # type: ignore[return-value]

    bootnodes = lambda: list(live)  # noqa: E731
    watch = SwarmWatch(
        "s", read_clock, bootnodes, live.__getitem__, quiet_s=10, events=bus, monotonic=lambda: now[0]
    )
    for t in (0, 5, 9.9):
        now[0] = t
        watch.check()
    assert seen == []
    clock[0] = ChainUnavailable("down")  # an unreachable chain is no progress either
    for t in (10.0, 15.0, 30.0):
        now[0] = t
        watch.check()
    assert [(e.kind, e.round, e.stage) for e in seen] == [("SwarmLooksStopped", 3, 1)]
    clock[0] = (3, 2)
    now[0] = 31.0
    watch.check()
    assert [e.kind for e in seen] == ["SwarmLooksStopped", "SwarmResumed"]
    # a live bootnode alone counts as progress too
    for t in (45.0, 50.0):
        now[0] = t
        watch.check()
    assert [e.kind for e in seen][-1] == "SwarmLooksStopped"
    live["/ip4/127.0.0.1/tcp/1"] = True
    now[0] = 51.0
    watch.check()
    assert [e.kind for e in seen] == ["SwarmLooksStopped", "SwarmResumed"] * 2
