"""The auto-push worker: training goes on while the Hub fails; failures are reported and retried."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from rlswarm_core.hub.errors import HubPushError
from rlswarm_core.hub.events import PushDone, PushFailed, PushStarted
from rlswarm_core.hub.push import RetryPolicy, hub_access
from rlswarm_core.hub.selection import instance_checkpoints
from rlswarm_core.hub.worker import AutoPushConfig, PushWorker
from rlswarm_core.node.events import CheckpointSaved
from rlswarm_core.swarm.events import EventBus, drain
from tests.hub.conftest import InstanceMaker, save_round
from tests.hub.fake_hub import WRITE_TOKEN, FakeHub

FAST = RetryPolicy(attempts=2, base_delay_s=0.01, max_delay_s=0.01)


def _wait_for(predicate, timeout: float = 20.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.02)


def test_training_goes_on_while_the_hub_fails_then_the_push_lands(
    fake_hub: FakeHub, make_instance: InstanceMaker, tiny_model_dir: Path
) -> None:
    store = make_instance("default")
    access = hub_access(token=WRITE_TOKEN)  # checked before "training" starts
    bus = EventBus()
    events = bus.queue()
    config = AutoPushConfig(every_rounds=2, retry_after_s=0.3, max_failures=100, retry=FAST)
    worker = PushWorker(instance_checkpoints("default"), access, config, bus.emit).start()
    bus.subscribe(worker.on_event)
    fake_hub.state.fail("commit", 503, times=10_000)
    try:
        handoff: list[float] = []
        for round_ in range(1, 7):
            checkpoint = save_round(store, tiny_model_dir, round_, reward=float(round_))
            started = time.monotonic()
            bus.emit(CheckpointSaved(round=round_, path=str(checkpoint.path)))
            handoff.append(time.monotonic() - started)
            time.sleep(0.15)  # the next round's training
        assert [c.round for c in store.list()] == [1, 2, 3, 4, 5, 6]  # every round trained and saved
        assert max(handoff) < 0.1  # handing a checkpoint over never waits for the Hub
        assert bus.subscriber_errors == 0  # nothing raised into the node's event bus
        seen: list[object] = []

        def failed_for_six() -> bool:
            seen.extend(drain(events))
            return any(isinstance(e, PushFailed) and e.round == 6 for e in seen)

        _wait_for(failed_for_six)
        failures = [e for e in seen if isinstance(e, PushFailed)]
        assert all("HTTP 503" in e.message and e.repo_id.startswith("alice/") for e in failures)
        assert failures[-1].will_retry and failures[-1].retry_in_s == pytest.approx(0.3)
        assert {e.round for e in seen if isinstance(e, PushStarted)} <= {2, 4, 6}
        assert fake_hub.state.commits == []

        fake_hub.state.heal()

        def pushed() -> bool:
            seen.extend(drain(events))
            return any(isinstance(e, PushDone) for e in seen)

        _wait_for(pushed)
        done = [e for e in seen if isinstance(e, PushDone)]
        assert [e.round for e in done] == [6]  # the newest due checkpoint replaced the older requests
        assert fake_hub.state.commits[-1]["summary"].startswith("rl-swarm: round 6,")
        assert worker.wait_idle(5)
    finally:
        worker.stop()
    assert not worker._thread.is_alive()  # type: ignore[union-attr]


def test_a_request_is_dropped_after_max_failures(
    fake_hub: FakeHub, make_instance: InstanceMaker, tiny_model_dir: Path
) -> None:
    store = make_instance("default")
    access = hub_access(token=WRITE_TOKEN)
    seen: list[object] = []
    config = AutoPushConfig(every_rounds=1, retry_after_s=0.05, max_failures=2, retry=FAST)
    worker = PushWorker(instance_checkpoints("default"), access, config, seen.append).start()
    fake_hub.state.fail("commit", "drop", times=10_000)
    try:
        save_round(store, tiny_model_dir, 1, reward=1.0)
        assert worker.submit(1)
        assert worker.wait_idle(20)
        failures = [e for e in seen if isinstance(e, PushFailed)]
        assert [(e.attempt, e.will_retry) for e in failures] == [(1, True), (2, False)]
        assert "network failure" in failures[0].message
        assert fake_hub.state.count("commit") == 4  # two tries, each with one quick retry
    finally:
        worker.stop()


def test_best_only_worker_pushes_the_best_checkpoint(
    fake_hub: FakeHub, make_instance: InstanceMaker, tiny_model_dir: Path
) -> None:
    store = make_instance("default")
    access = hub_access(token=WRITE_TOKEN)
    seen: list[object] = []
    config = AutoPushConfig(every_rounds=1, best_only=True, retry=FAST)
    worker = PushWorker(instance_checkpoints("default"), access, config, seen.append).start()
    try:
        for round_, reward in ((1, 1.0), (2, 3.0), (3, 2.0)):
            save_round(store, tiny_model_dir, round_, reward=reward)
            worker.submit(round_)
            assert worker.wait_idle(20)
        assert [e.round for e in seen if isinstance(e, PushDone)] == [1, 2, 2]
    finally:
        worker.stop()


def test_not_due_rounds_are_ignored_and_bad_period_refused(make_instance: InstanceMaker) -> None:
    from rlswarm_core.hub.push import HubAccess

    make_instance("default")
    access = HubAccess(endpoint="http://127.0.0.1:9", user="alice", role="write", token="hf_x")
    worker = PushWorker(
        instance_checkpoints("default"), access, AutoPushConfig(every_rounds=3), lambda e: None
    )
    assert not worker.submit(1) and not worker.submit(2) and worker.idle()
    with pytest.raises(HubPushError, match="at least 1"):
        PushWorker(instance_checkpoints("default"), access, AutoPushConfig(every_rounds=0), lambda e: None)


def test_a_refusal_is_reported_once_and_not_retried(
    fake_hub: FakeHub, make_instance: InstanceMaker, tiny_model_dir: Path
) -> None:
    store = make_instance("default")
    access = hub_access(token=WRITE_TOKEN)
    fake_hub.state.add_repo("mallory/taken", "mallory")
    seen: list[object] = []
    config = AutoPushConfig(every_rounds=1, repo_id="mallory/taken", retry_after_s=0.01, retry=FAST)
    worker = PushWorker(instance_checkpoints("default"), access, config, seen.append).start()
    try:
        save_round(store, tiny_model_dir, 1, reward=1.0)
        worker.submit(1)
        assert worker.wait_idle(20)
        (failure,) = [e for e in seen if isinstance(e, PushFailed)]
        assert "mallory/taken is taken" in failure.message and not failure.will_retry
        assert fake_hub.state.count("create") == 1
    finally:
        worker.stop()
