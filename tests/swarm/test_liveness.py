"""The clock's liveness rule: who a stage waits for, and for how long.

The rule itself is checked as a pure function; then on real hivemind nodes on loopback with a peer
process that is SIGKILLed after publishing, and one that is connected but never publishes.
"""

from __future__ import annotations

import os
import signal
import threading

import pytest

from rlswarm_core.swarm.coordinator import RoundStage
from rlswarm_core.swarm.events import EventBus
from rlswarm_core.swarm.exchange import Exchange
from rlswarm_core.swarm.liveness import StageGate, wait_for_stage

from .conftest import Swarm
from .test_dead_peer import kill, start_peer


def gate(previous: set[str], min_peers: int = 1, grace: float = 10.0, timeout: float = 600.0) -> StageGate:
    return StageGate("me", previous, min_peers=min_peers, grace_s=grace, timeout_s=timeout)


def test_a_stage_closes_as_soon_as_every_live_peer_published() -> None:
    g = gate({"me", "a", "b"})
    assert g.observe({"me", "a"}, 0.0) is None
    assert g.observe({"me", "a", "b"}, 1.0) == "all"
    # a newcomer that publishes for this stage is live at once, and counted as published
    assert gate({"me"}).observe({"me", "new"}, 0.0) == "all"


def test_a_departed_peer_costs_one_grace_once() -> None:
    first = gate({"me", "a", "gone"}, grace=10.0)
    assert first.observe({"me", "a"}, 0.0) is None
    assert first.observe({"me", "a"}, 9.9) is None
    assert first.observe({"me", "a"}, 10.0) == "grace"
    assert first.close("grace", 10.0).missing == ("gone",)
    # the next stage expects only those that published for this one
    second = gate(set(first.published), grace=10.0)
    assert second.observe({"me", "a"}, 20.0) == "all"


def test_without_min_peers_the_stage_waits_for_its_timeout() -> None:
    g = gate({"me"}, min_peers=3, grace=1.0, timeout=60.0)
    assert g.observe({"me", "a"}, 0.0) is None
    assert g.observe({"me", "a"}, 59.0) is None
    assert g.observe({"me", "a"}, 60.0) == "timeout"
    # reaching min_peers starts the grace, not an immediate close, while a live peer is missing
    h = gate({"me", "a", "b"}, min_peers=2, grace=5.0)
    assert h.observe({"me", "a"}, 0.0) is None
    assert h.observe({"me", "a"}, 5.0) == "grace"


@pytest.mark.slow
def test_a_killed_peer_costs_one_grace_and_a_silent_peer_nothing(swarm: Swarm) -> None:
    """Real DHT: the previous stage was published by every honest node and by a peer process that is
    then SIGKILLed; a second peer process is connected but never publishes."""
    previous, current, after = RoundStage(510, 0), RoundStage(510, 1), RoundStage(510, 2)
    exs = [Exchange(node, events=EventBus()) for node in swarm.nodes]
    for i, ex in enumerate(exs):
        assert ex.publish_reward(previous, float(i), steps=4)
    doomed, doomed_id, _ = start_peer(swarm, previous.round, outputs=False, stage=previous.stage)
    silent, silent_id, _ = start_peer(swarm, previous.round, outputs=False, silent=True)
    try:
        coordinator = exs[0]
        assert doomed_id in coordinator.read_rewards(previous).rewards
        os.kill(doomed.pid, signal.SIGKILL)
        doomed.wait(10)
        for ex in exs:
            assert ex.publish_reward(current, 1.0, steps=4)

        def publishers(rs: RoundStage) -> set[str]:
            return set(coordinator.read_rewards(rs).rewards)

        common = dict(
            own_peer=swarm.nodes[0].peer_id,
            min_peers=1,
            grace_s=2.0,
            timeout_s=600.0,
            stop=threading.Event(),
            first_poll_s=0.1,
        )
        closed = wait_for_stage(publishers, current, previous, **common)
        honest = {n.peer_id for n in swarm.nodes}
        assert closed.reason == "grace"
        assert closed.missing == (doomed_id,)
        assert silent_id not in closed.expected
        assert closed.published == honest

        for ex in exs:
            assert ex.publish_reward(after, 1.0, steps=4)
        closed = wait_for_stage(publishers, after, current, **common)
        assert closed.reason == "all"
        assert closed.expected == honest
    finally:
        kill(silent)
        kill(doomed)
