"""The DHT round/stage clock across real nodes: agreement, late joiners, falling behind, hostile clocks."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest

from rlswarm_core.swarm.coordinator import DHTCoordinator, RoundStage
from rlswarm_core.swarm.dht import SwarmNode
from rlswarm_core.swarm.errors import NotCoordinatorError
from rlswarm_core.swarm.events import EventBus, StageSkipped, StageStarted, drain

from .conftest import Swarm

STAGES = 3


@pytest.fixture(scope="module")
def clock(swarm: Swarm) -> Iterator[DHTCoordinator]:
    yield DHTCoordinator(swarm.coordinator, STAGES, is_coordinator=True, start=RoundStage(0, 0))


def follower(node: SwarmNode, clock: DHTCoordinator, pinned: bool = True) -> DHTCoordinator:
    return DHTCoordinator(
        node,
        STAGES,
        coordinator_peer_id=clock.node.peer_id if pinned else None,
        poll_min_s=0.0,
        join_timeout_s=10.0,
        events=EventBus(),
    )


def test_followers_agree_with_the_coordinator(swarm: Swarm, clock: DHTCoordinator) -> None:
    followers = [follower(node, clock) for node in swarm.nodes[1:]]
    start = clock.current()
    assert [f.current() for f in followers] == [start] * len(followers)
    for expected in (start.next(STAGES), start.next(STAGES).next(STAGES)):
        before = clock.current()
        assert clock.advance() == expected
        for f in followers:
            assert f.wait_for_change(before, timeout=10.0, poll_min_s=0.05) == expected


def test_waiting_reads_the_clock_at_the_callers_pace_not_the_throttle(
    swarm: Swarm, clock: DHTCoordinator
) -> None:
    # A follower throttles current() (panels and step hooks call it often); a node waiting for the
    # next stage polls at its own, stage-sized pace and must see the change at once.
    slow = DHTCoordinator(
        swarm.nodes[1], STAGES, coordinator_peer_id=clock.node.peer_id, poll_min_s=600.0, events=EventBus()
    )
    before = slow.current()
    assert before == clock.current()
    after = clock.advance()
    assert slow.current() == before  # answered from the throttled read
    assert slow.wait_for_change(before, timeout=10.0, poll_min_s=0.02, poll_max_s=0.1) == after


def test_the_stage_wraps_into_the_next_round(clock: DHTCoordinator) -> None:
    while clock.current().stage != STAGES - 1:
        clock.advance()
    last = clock.current()
    assert clock.advance() == RoundStage(last.round + 1, 0)


def test_a_follower_joining_mid_round_starts_at_the_current_stage(
    swarm: Swarm, clock: DHTCoordinator, node_factory: Callable[..., SwarmNode]
) -> None:
    if clock.current().stage == 0:
        clock.advance()
    now = clock.current()
    late = node_factory()
    bus = EventBus()
    events = bus.queue()
    f = DHTCoordinator(late, STAGES, poll_min_s=0.0, events=bus)  # not pinned: trusts the first clock seen
    assert f.current() == now
    assert f.coordinator_peer_id == clock.node.peer_id
    seen = drain(events)
    assert seen == [StageStarted(round=now.round, stage=now.stage, late_join=True, at=seen[0].at)]


def test_a_node_that_fell_behind_skips_ahead_and_says_so_once(swarm: Swarm, clock: DHTCoordinator) -> None:
    f = follower(swarm.nodes[2], clock)
    events = f.events.queue()
    was = f.current()
    for _ in range(3):
        clock.advance()
    now = clock.current()
    for _ in range(5):
        assert f.current() == now
    skipped = [e for e in drain(events) if isinstance(e, StageSkipped)]
    assert [(e.from_round, e.from_stage, e.to_round, e.to_stage) for e in skipped] == [
        (was.round, was.stage, now.round, now.stage)
    ]
    # a trainer still on an old stage is told once, not every time it asks
    stale = was
    assert f.catch_up(stale) == now
    assert f.catch_up(stale) == now
    assert len([e for e in drain(events) if isinstance(e, StageSkipped)]) == 1


def test_followers_cannot_advance(swarm: Swarm, clock: DHTCoordinator) -> None:
    with pytest.raises(NotCoordinatorError):
        follower(swarm.nodes[1], clock).advance()


def test_the_clock_advances_by_steps_and_by_time(swarm: Swarm, clock: DHTCoordinator) -> None:
    clock.steps_per_stage = 2
    start = clock.current()
    assert clock.on_step(1) == start
    assert clock.on_step(2) == start.next(STAGES)
    clock.steps_per_stage = 1
    assert clock.on_step(3) == start.next(STAGES).next(STAGES)
    clock.steps_per_stage = None

    clock.stage_seconds = 0.3
    here = clock.current()
    assert clock.tick() == here
    time.sleep(0.35)
    assert clock.tick() == here.next(STAGES)
    clock.stage_seconds = None
    f = follower(swarm.nodes[3], clock)
    assert f.current() == clock.current()


def test_a_restarted_coordinator_resumes_its_published_clock(swarm: Swarm, clock: DHTCoordinator) -> None:
    resumed = DHTCoordinator(swarm.coordinator, STAGES, is_coordinator=True, events=EventBus())
    assert resumed.current() == clock.current()


def test_waiting_times_out_without_a_tight_loop(swarm: Swarm, clock: DHTCoordinator) -> None:
    f = follower(swarm.nodes[1], clock)
    now = f.current()
    started = time.monotonic()
    assert f.wait_for_change(now, timeout=0.6, poll_min_s=0.1, poll_max_s=0.2) is None
    assert 0.55 < time.monotonic() - started < 3.0


def test_a_node_asked_to_stop_does_not_wait_out_the_clock(swarm: Swarm, clock: DHTCoordinator) -> None:
    import threading

    waiting = follower(swarm.nodes[2], clock)
    now = waiting.current()
    stop = threading.Event()
    threading.Timer(0.3, stop.set).start()
    # a stage timeout of ten minutes: returning at all means the stop was seen
    assert waiting.wait_for_change(now, timeout=600.0, poll_min_s=0.05, stop=stop) is None
    assert stop.is_set() and waiting.current() == now
