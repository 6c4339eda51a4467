"""The round/stage clock behind one small interface, and its DHT-backed implementation.

A chain-backed coordinator implements the same :class:`Coordinator` interface; the training loop only
asks for :meth:`Coordinator.current`, waits with :meth:`Coordinator.wait_for_change`, and (on the node
that runs the clock) calls :meth:`Coordinator.advance`.
"""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rlswarm_core.swarm import keys
from rlswarm_core.swarm.errors import NotCoordinatorError, SwarmError
from rlswarm_core.swarm.events import EventBus, MalformedRecords, StageSkipped, StageStarted
from rlswarm_core.swarm.records import RoundStageRecord, check_entry, encode_record, owner_subkey

if TYPE_CHECKING:
    from rlswarm_core.swarm.dht import SwarmNode


@dataclass(frozen=True, order=True)
class RoundStage:
    round: int
    stage: int

    def next(self, stage_count: int) -> RoundStage:
        if self.stage + 1 < stage_count:
            return RoundStage(self.round, self.stage + 1)
        return RoundStage(self.round + 1, 0)

    def previous(self, stage_count: int) -> RoundStage | None:
        if self.stage > 0:
            return RoundStage(self.round, self.stage - 1)
        if self.round > 0:
            return RoundStage(self.round - 1, stage_count - 1)
        return None


class Coordinator(ABC):
    """Where the swarm is in its rounds and stages."""

    stage_count: int

    @abstractmethod
    def current(self) -> RoundStage:
        """The swarm's current round and stage (raise :class:`SwarmError` when it cannot be known)."""

    @abstractmethod
    def advance(self) -> RoundStage:
        """Move the swarm to its next stage; only the node that runs the clock may do this."""

    def poll(self) -> RoundStage:
        """The clock read afresh, for a caller that paces its own reads (:meth:`current` may answer
        from a recent read)."""
        return self.current()

    def wait_for_change(
        self,
        after: RoundStage,
        timeout: float,
        poll_min_s: float = 0.2,
        poll_max_s: float = 5.0,
        stop: threading.Event | None = None,
    ) -> RoundStage | None:
        """Block until the clock leaves ``after``; None on timeout, or as soon as ``stop`` is set (a node
        asked to stop does not wait out its stage timeout). Polls with exponential backoff."""
        deadline = time.monotonic() + timeout
        delay = poll_min_s
        stop = stop or threading.Event()
        while True:
            now = self.poll()
            if now != after:
                return now
            left = deadline - time.monotonic()
            if left <= 0 or stop.is_set():
                return None
            if stop.wait(min(delay, left)):
                return None
            delay = min(delay * 2, poll_max_s)


class DHTCoordinator(Coordinator):
    """The clock kept on the DHT under ``rl_swarm_rs``.

    The coordinator node (``is_coordinator=True``) advances by steps (:meth:`on_step`), by time
    (:meth:`tick`, with ``stage_seconds``) or explicitly (:meth:`advance`) and publishes each change,
    signed. Followers read the record signed by ``coordinator_peer_id``; when it is not given they trust
    on first use (see :meth:`_first_trusted`; pin the id where peers may be hostile). A follower that
    joins late starts at the current stage; one that fell behind jumps ahead and emits one
    :class:`StageSkipped` per jump.
    """

    def __init__(
        self,
        node: SwarmNode,
        stage_count: int,
        *,
        is_coordinator: bool = False,
        coordinator_peer_id: str | None = None,
        stage_seconds: float | None = None,
        steps_per_stage: int | None = None,
        start: RoundStage | None = None,
        poll_min_s: float = 0.5,
        join_timeout_s: float = 30.0,
        events: EventBus | None = None,
    ) -> None:
        if stage_count < 1:
            raise SwarmError(f"stage_count must be at least 1, not {stage_count}")
        self.node = node
        self.stage_count = stage_count
        self.is_coordinator = is_coordinator
        self.coordinator_peer_id = node.peer_id if is_coordinator else coordinator_peer_id
        self.stage_seconds = stage_seconds
        self.steps_per_stage = steps_per_stage
        self.poll_min_s = poll_min_s
        self.join_timeout_s = join_timeout_s
        self.events = events or node.events
        self._local: RoundStage | None = None
        self._stage_started = time.time()
        self._stage_first_step: int | None = None
        self._last_poll = float("-inf")
        self._last_publish = 0.0
        self._publish_failed = False
        self.malformed = 0
        self._reported_skip: tuple[RoundStage, RoundStage] | None = None
        if is_coordinator:
            resumed = self._read_published()
            self._enter(start or resumed or RoundStage(0, 0), late_join=False)
            self._publish()

    # -- coordinator role ----------------------------------------------------------------------------
    def advance(self) -> RoundStage:
        if not self.is_coordinator:
            raise NotCoordinatorError(
                "only the coordinator node advances the round/stage clock",
                "start one node with the coordinator role, or use a chain coordinator",
            )
        assert self._local is not None
        self._enter(self._local.next(self.stage_count), late_join=False)
        self._publish()
        return self._local

    def on_step(self, step: int) -> RoundStage:
        """Call after each optimizer step: advances once ``steps_per_stage`` steps were done in a stage."""
        if self.is_coordinator and self.steps_per_stage:
            if self._stage_first_step is None:
                self._stage_first_step = step
            if step - self._stage_first_step + 1 >= self.steps_per_stage:
                return self.advance()
        return self.current()

    def tick(self) -> RoundStage:
        """Time-driven clock: advance when the stage has lasted ``stage_seconds``; keep the record fresh."""
        if not self.is_coordinator:
            return self.current()
        if self.stage_seconds and time.time() - self._stage_started >= self.stage_seconds:
            return self.advance()
        # retry a failed publish, and refresh the record long before it expires
        if self._publish_failed or time.time() - self._last_publish > self.node.options.expiration_s / 2:
            self._publish()
        assert self._local is not None
        return self._local

    def _publish(self) -> None:
        assert self._local is not None
        record = RoundStageRecord(
            peer_id=self.node.peer_id,
            round=self._local.round,
            stage=self._local.stage,
            stage_count=self.stage_count,
            timestamp=time.time(),
        )
        subkey = owner_subkey(self.node.peer_id, self.node.public_key)
        self._publish_failed = not self.node.store_many(
            [(keys.ROUND_STAGE_KEY, subkey, encode_record(record))]
        )
        if not self._publish_failed:
            self._last_publish = time.time()

    # -- both roles ----------------------------------------------------------------------------------
    def poll(self) -> RoundStage:
        self._last_poll = float("-inf")  # the caller paces the reads: skip the throttle of current()
        return self.current()

    def current(self) -> RoundStage:
        if self.is_coordinator:
            assert self._local is not None
            return self._local
        if self._local is not None and time.monotonic() - self._last_poll < self.poll_min_s:
            return self._local
        deadline = time.monotonic() + (0 if self._local is not None else self.join_timeout_s)
        delay = self.poll_min_s
        while True:
            self._last_poll = time.monotonic()
            published = self._read_published()
            if published is not None:
                if published != self._local:
                    self._follow(published)
                assert self._local is not None
                return self._local
            if self._local is not None:
                return self._local
            if time.monotonic() >= deadline:
                who = self.coordinator_peer_id or "any coordinator"
                raise SwarmError(
                    f"no round/stage clock from {who} on the DHT after {self.join_timeout_s:.0f} s",
                    "check that the coordinator node is running and that this node joined the same swarm",
                )
            time.sleep(delay)
            delay = min(delay * 2, 5.0)

    def _read_published(self) -> RoundStage | None:
        entries = self.node.get_many([keys.ROUND_STAGE_KEY], timeout=self.node.options.rpc_timeout_s)
        found = entries.get(keys.ROUND_STAGE_KEY) or {}
        records: list[RoundStageRecord] = []
        bad = 0
        for subkey, raw in found.items():
            try:
                record = check_entry(subkey, raw)
            except ValueError:
                bad += 1
                continue
            if isinstance(record, RoundStageRecord):
                records.append(record)
            else:
                bad += 1
        if bad:
            self.malformed += bad
            self.events.emit(MalformedRecords(key=keys.ROUND_STAGE_KEY, count=bad))
        if self.coordinator_peer_id is None and records:
            self.coordinator_peer_id = self._first_trusted(records)
        for record in records:
            if record.peer_id == self.coordinator_peer_id:
                if record.stage_count != self.stage_count and not self.is_coordinator:
                    self.stage_count = record.stage_count
                return RoundStage(record.round, record.stage)
        return None

    def _first_trusted(self, records: list[RoundStageRecord]) -> str:
        """Trust on first use for an unpinned follower: a clock signed by one of the peers it
        bootstrapped from (usually the coordinator itself), else the earliest one seen; the choice is
        then kept, so a later writer cannot take over."""
        options = getattr(self.node, "options", None)
        bootstrap_ids = {
            str(m).rstrip("/").rsplit("/p2p/", 1)[-1] for m in getattr(options, "initial_peers", ())
        }
        from_bootstrap = [r for r in records if r.peer_id in bootstrap_ids]
        candidates = from_bootstrap or records
        return min(candidates, key=lambda r: (r.timestamp, r.peer_id)).peer_id

    def _follow(self, published: RoundStage) -> None:
        previous = self._local
        if previous is not None and published > previous.next(self.stage_count):
            self.events.emit(
                StageSkipped(
                    from_round=previous.round,
                    from_stage=previous.stage,
                    to_round=published.round,
                    to_stage=published.stage,
                )
            )
        self._enter(published, late_join=previous is None and published != RoundStage(0, 0))

    def _enter(self, stage: RoundStage, late_join: bool) -> None:
        self._local = stage
        self._stage_started = time.time()
        self._stage_first_step = None
        self.events.emit(StageStarted(round=stage.round, stage=stage.stage, late_join=late_join))

    def catch_up(self, local: RoundStage) -> RoundStage:
        """For a trainer that finished ``local``: the stage to work on now. When the swarm moved on by
        more than one stage, say so once and jump to where it is."""
        now = self.current()
        if now > local.next(self.stage_count) and self._reported_skip != (local, now):
            self._reported_skip = (local, now)
            self.events.emit(
                StageSkipped(
                    from_round=local.round, from_stage=local.stage, to_round=now.round, to_stage=now.stage
                )
            )
        return now
