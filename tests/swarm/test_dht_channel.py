"""The lasting call channel into a node's DHT process: answers reach the right caller, a late call is
cancelled where it runs, failures come back as one event, and a dead DHT process ends every wait."""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import threading
import time
from collections.abc import Iterator
from functools import partial

import pytest

from rlswarm_core.swarm.events import EventBus, SwarmErrorEvent, drain

from . import channel_calls
from .conftest import Swarm, our_p2pd, wait_no_p2pd


def swarm_errors(seen) -> list[SwarmErrorEvent]:
    return [e for e in drain(seen) if isinstance(e, SwarmErrorEvent)]


@contextlib.contextmanager
def events_of(node) -> Iterator[queue.Queue]:
    """The node's events, seen by this test alone, while the block runs."""
    events = EventBus()
    node_events, node.events = node.events, events
    try:
        yield events.queue()
    finally:
        node.events = node_events


def test_calls_from_many_threads_each_get_their_own_answer(swarm: Swarm) -> None:
    node = swarm.nodes[1]
    answers: dict[tuple[int, int], object] = {}

    def caller(thread: int) -> None:
        for i in range(15):
            # answers come back out of order: later calls finish first
            coro = partial(channel_calls.echo, value=(thread, i), delay=0.002 * ((thread + i) % 4))
            answers[thread, i] = node.run("echo", coro, default=None, timeout=30)

    threads = [threading.Thread(target=caller, args=(t,)) for t in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers == {(t, i): (t, i) for t in range(6) for i in range(15)}


def test_large_calls_and_answers_pass_whole(swarm: Swarm) -> None:
    node = swarm.nodes[1]
    coro = partial(channel_calls.sized, data=b"x" * 400_000, answer_bytes=1_000_000)
    size, answer = node.run("sized", coro, default=None, timeout=30)
    assert size == 400_000 and answer == b"y" * 1_000_000


def test_a_failing_call_is_one_event_and_the_default(swarm: Swarm) -> None:
    node = swarm.nodes[2]
    with events_of(node) as seen:
        coro = partial(channel_calls.fail, message="no such record")
        assert node.run("store", coro, default="fallback", timeout=30) == "fallback"
        errors = swarm_errors(seen)
        assert [(e.operation, e.message) for e in errors] == [("store", "ValueError: no such record")]
        assert node.run("echo", partial(channel_calls.echo, value=1), None, timeout=30) == 1


def test_a_call_past_its_timeout_is_cancelled_where_it_runs(swarm: Swarm) -> None:
    node = swarm.nodes[2]
    with events_of(node) as seen:
        slow = partial(channel_calls.echo, value="late", delay=600.0)
        assert node.run("get", slow, default="fallback", timeout=0.3) == "fallback"
        assert [e.operation for e in swarm_errors(seen)] == ["get"]
        # the DHT process drops the call's task: nothing is left running for it
        deadline = time.monotonic() + 30
        while node.run("count", channel_calls.calls_in_flight, default=None, timeout=30) != 0:
            assert time.monotonic() < deadline, "the timed-out call still runs in the DHT process"
            time.sleep(0.05)


def test_a_call_that_cannot_be_pickled_raises_here_and_the_dht_lives_on(swarm: Swarm) -> None:
    node = swarm.nodes[3]

    async def local(_dht, _node):  # a closure: it cannot be sent to another process
        return 1

    with pytest.raises((AttributeError, TypeError, ValueError)):
        node.run("local", local, default=None, timeout=5)
    assert node.dht.is_alive()
    assert node.run("echo", partial(channel_calls.echo, value=2), None, timeout=30) == 2


def test_a_killed_dht_process_ends_every_waiting_call(swarm: Swarm, node_factory) -> None:
    events = EventBus()
    seen = events.queue()
    node = node_factory(events)
    daemons = node.daemon_pids()
    results: list[object] = []
    waiting = threading.Thread(
        target=lambda: results.append(
            node.run("get", partial(channel_calls.echo, value=1, delay=600.0), "fallback", timeout=600)
        )
    )
    waiting.start()
    deadline = time.monotonic() + 30
    while not node.run("count", channel_calls.calls_in_flight, default=None, timeout=30):
        assert time.monotonic() < deadline, "the slow call never started"
    os.kill(node.dht.pid, signal.SIGKILL)
    waiting.join(timeout=60)  # far below the call's own 600 s timeout
    assert not waiting.is_alive() and results == ["fallback"]
    (error,) = [e for e in swarm_errors(seen) if e.operation == "get"]
    assert error.message.startswith("ChannelClosed") and "the DHT process has exited" in error.message
    # later calls fail at once, the same way, and shutting down still stops its p2pd
    assert node.run("echo", partial(channel_calls.echo, value=1), "fallback", timeout=600) == "fallback"
    node.shutdown()
    assert not [p for p in our_p2pd(swarm.id_dir) if p.pid in daemons]
    assert not wait_no_p2pd(node.options.identity_path)
