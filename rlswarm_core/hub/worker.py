"""Automatic pushes every N rounds, off the training path.

The node hands over each saved checkpoint (:meth:`PushWorker.on_event` subscribes to the event bus)
and goes on at once: a daemon thread does the upload. A failing Hub never raises into training: the
worker emits :class:`~rlswarm_core.hub.events.PushFailed` and, when the failure can heal by itself
(network, Hub overload), keeps the request and tries again after ``retry_after_s``. A newer checkpoint
replaces a request still waiting, since only the newest (or, with ``best_only``, the best) is worth
publishing.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from rlswarm_core.hub.errors import HubPushError
from rlswarm_core.hub.events import PushDone, PushFailed, PushStarted
from rlswarm_core.hub.push import HubAccess, RetryPolicy, prepare_upload, push_plan, target_repo_id
from rlswarm_core.hub.selection import InstanceCheckpoints, select_checkpoint
from rlswarm_core.node.events import CheckpointSaved
from rlswarm_core.secrets.redact import redact
from rlswarm_core.swarm.events import Event

Emit = Callable[[Event], None]


@dataclass(frozen=True)
class AutoPushConfig:
    every_rounds: int
    repo_id: str | None = None
    org: str | None = None
    private: bool = False
    best_only: bool = False
    optimizer: str = "none"
    retry_after_s: float = 60.0
    max_failures: int = 5  # a request failing this often in a row is dropped (a newer round may follow)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    settings: Mapping[str, Any] | None = None


@dataclass
class _Request:
    round: int
    failures: int = 0
    not_before: float = 0.0


class PushWorker:
    def __init__(
        self, item: InstanceCheckpoints, access: HubAccess, config: AutoPushConfig, emit: Emit
    ) -> None:
        if config.every_rounds < 1:
            raise HubPushError(
                "push_every_rounds must be at least 1", "set it to 1 or more, or leave it unset"
            )
        self.item = item
        self.access = access
        self.config = config
        self.emit = emit
        self._cond = threading.Condition()
        self._pending: _Request | None = None
        self._busy = False
        self._stopping = False
        self._thread: threading.Thread | None = None

    def start(self) -> PushWorker:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="hub-push", daemon=True)
            self._thread.start()
        return self

    def due(self, round_: int) -> bool:
        return round_ % self.config.every_rounds == 0

    def submit(self, round_: int) -> bool:
        """Queue ``round_`` for upload if it is due; returns at once."""
        if not self.due(round_):
            return False
        with self._cond:
            self._pending = _Request(round_)
            self._cond.notify_all()
        return True

    def on_event(self, event: Event) -> None:
        """Event-bus subscriber: every due :class:`CheckpointSaved` becomes a push request."""
        if isinstance(event, CheckpointSaved):
            self.submit(event.round)

    def idle(self) -> bool:
        with self._cond:
            return self._pending is None and not self._busy

    def wait_idle(self, timeout: float) -> bool:
        """Wait until nothing is queued or uploading (a request waiting for its retry counts as queued)."""
        with self._cond:
            return self._cond.wait_for(lambda: self._pending is None and not self._busy, timeout)

    def wait_settled(self, timeout: float) -> bool:
        """Wait for the upload in progress and any request already due, but not for a retry that is
        scheduled later: a node shutting down finishes its last push, not a backoff against a dead Hub."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._busy or (self._pending is not None and self._pending.not_before <= time.monotonic()):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 0.1))
            return True

    def stop(self, timeout: float = 5.0) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)

    def _next(self) -> _Request | None:
        with self._cond:
            while not self._stopping:
                request = self._pending
                if request is not None:
                    wait = request.not_before - time.monotonic()
                    if wait <= 0:
                        self._pending = None
                        self._busy = True
                        return request
                    self._cond.wait(wait)
                else:
                    self._cond.wait()
            return None

    def _run(self) -> None:
        while True:
            request = self._next()
            if request is None:
                return
            try:
                self._push(request)
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()

    def _push(self, request: _Request) -> None:
        config = self.config
        repo_id = config.repo_id or ""
        try:
            checkpoint = select_checkpoint(
                self.item, best_only=config.best_only, round_=None if config.best_only else request.round
            )
            repo_id = target_repo_id(self.access.user, self.item, checkpoint, config.repo_id, config.org)
            self._safe_emit(PushStarted(round=checkpoint.round, repo_id=repo_id))
            with prepare_upload(
                self.item, checkpoint, repo_id, optimizer=config.optimizer, settings=config.settings
            ) as plan:
                result = push_plan(
                    plan, access=self.access, repo_id=repo_id, private=config.private, retry=config.retry
                )
        except Exception as exc:
            if isinstance(exc, HubPushError):
                self._failed(request, repo_id, exc.one_line(), exc.transient)
            else:
                self._failed(request, repo_id, f"{type(exc).__name__}: {redact(str(exc))}", False)
            return
        self._safe_emit(
            PushDone(
                round=result.round,
                repo_id=result.repo_id,
                url=result.url,
                commit=result.commit,
                files=len(result.files),
                bytes=result.bytes,
                seconds=result.seconds,
                attempts=result.attempts,
            )
        )

    def _failed(self, request: _Request, repo_id: str, message: str, transient: bool) -> None:
        # only a network failure or an overloaded Hub can heal by itself; a refusal needs the operator
        request.failures += 1
        will_retry = transient and request.failures < self.config.max_failures
        with self._cond:
            if will_retry and self._pending is None and not self._stopping:
                request.not_before = time.monotonic() + self.config.retry_after_s
                self._pending = request
            elif self._pending is not None:
                will_retry = False  # a newer checkpoint replaces this one
        self._safe_emit(
            PushFailed(
                round=request.round,
                repo_id=repo_id,
                message=message,
                attempt=request.failures,
                will_retry=will_retry,
                retry_in_s=self.config.retry_after_s if will_retry else 0.0,
            )
        )

    def _safe_emit(self, event: Event) -> None:
        # a broken subscriber must not stop the uploads
        with contextlib.suppress(Exception):
            self.emit(event)
