"""A durable queue for reward and winner submissions.

A submission that fails for a transport reason (endpoint down, timeout, 5xx) is written to the state
directory and retried with exponential backoff, also after a restart. Before resending, the chain is
asked whether the first attempt landed after all (a send can succeed even when its answer is lost), and
the contract's own duplicate reverts count as delivered, so a submission is never made twice.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

from filelock import FileLock

from rlswarm_core.chain.base import Submitter
from rlswarm_core.chain.errors import (
    ALREADY_DONE,
    AccountAlreadySubmitted,
    ChainError,
    ChainUnavailable,
    ContractRevert,
)
from rlswarm_core.chain.reader import CoordinatorReader
from rlswarm_core.system.paths import app_paths

log = logging.getLogger(__name__)

Kind = Literal["reward", "winners"]
Outcome = Literal["sent", "already", "queued"]
BASE_DELAY_S = 2.0
MAX_DELAY_S = 300.0


@dataclass
class Submission:
    kind: Kind
    round_number: int
    peer_id: str
    stage: int | None = None
    reward: int | None = None
    winners: list[str] = field(default_factory=list)
    attempts: int = 0
    next_at: float = 0.0
    last_error: str = ""

    @property
    def key(self) -> str:
        if self.kind == "reward":
            return f"reward/{self.round_number}/{self.stage}/{self.peer_id}"
        return f"winners/{self.round_number}/{self.peer_id}"

    @property
    def filename(self) -> str:
        # Peer ids are user input: never use them as path parts directly.
        return f"{self.kind}-{self.round_number}-{hashlib.sha256(self.key.encode()).hexdigest()[:24]}.json"


@dataclass(frozen=True)
class SubmissionOutcome:
    """What became of a submission that had been queued (told to :meth:`SubmissionQueue.subscribe`rs)."""

    what: Kind
    round: int
    stage: int
    status: Literal["sent", "already", "failed"]
    message: str = ""
    reason: str = ""


@dataclass
class DrainReport:
    sent: int = 0
    already: int = 0
    failed: int = 0
    waiting: int = 0


def default_queue_dir(network: str) -> Path:
    return app_paths().state / "chain-queue" / network


class SubmissionQueue:
    """Send through ``submitter`` now, or keep the submission in ``directory`` until it can be sent."""

    def __init__(
        self,
        directory: Path,
        submitter: Submitter,
        reader: CoordinatorReader,
        *,
        base_delay_s: float = BASE_DELAY_S,
        max_delay_s: float = MAX_DELAY_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.directory = directory
        self.failed_directory = directory / "failed"
        self.submitter = submitter
        self.reader = reader
        self.base_delay_s = base_delay_s
        self.max_delay_s = max_delay_s
        self._clock = clock
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        # One lock across processes: two nodes sharing a state directory must not send the same entry.
        self._lock = FileLock(str(directory / ".lock"))
        self._thread_lock = threading.Lock()
        self._listeners: list[Callable[[SubmissionOutcome], None]] = []

    def subscribe(self, listener: Callable[[SubmissionOutcome], None]) -> None:
        """Call ``listener`` with the outcome of every queued submission once it is settled."""
        self._listeners.append(listener)

    def _settled(
        self, entry: Submission, status: Literal["sent", "already", "failed"], message: str = ""
    ) -> None:
        outcome = SubmissionOutcome(entry.kind, entry.round_number, entry.stage or 0, status, message)
        for listener in list(self._listeners):
            try:
                listener(outcome)
            except Exception:
                log.exception("a submission listener failed")

    # ----- public API -----

    def submit_reward(self, round_number: int, stage: int, reward: int, peer_id: str) -> Outcome:
        return self._submit(Submission("reward", round_number, peer_id, stage=stage, reward=reward))

    def submit_winners(self, round_number: int, winners: Sequence[str], peer_id: str) -> Outcome:
        return self._submit(Submission("winners", round_number, peer_id, winners=list(winners)))

    def pending(self) -> list[Submission]:
        return sorted(self._load_all(self.directory), key=lambda s: (s.next_at, s.key))

    def failed(self) -> list[Submission]:
        return self._load_all(self.failed_directory)

    def next_due_in(self) -> float | None:
        """Seconds until the earliest pending entry is due (0 if overdue); None when nothing waits."""
        entries = self.pending()
        if not entries:
            return None
        return max(0.0, entries[0].next_at - self._clock())

    def drain(self, *, force: bool = False) -> DrainReport:
        """Retry due entries (all of them with ``force``); stops early while the endpoint is down."""
        report = DrainReport()
        with self._thread_lock, self._lock:
            now = self._clock()
            for entry in self.pending():
                if not force and entry.next_at > now:
                    report.waiting += 1
                    continue
                try:
                    outcome = self._resend(entry)
                except ChainUnavailable as exc:
                    self._reschedule(entry, exc)
                    # Everything left, including entries counted as waiting above, is still pending.
                    report.waiting = len(self.pending())
                    return report
                except ChainError as exc:
                    self._give_up(entry, exc)
                    report.failed += 1
                    self._settled(entry, "failed", exc)
                    continue
                self._remove(entry)
                if outcome == "sent":
                    report.sent += 1
                else:
                    report.already += 1
                self._settled(entry, outcome)
        return report

    # ----- internals -----

    def _submit(self, entry: Submission) -> Outcome:
        with self._thread_lock, self._lock:
            path = self.directory / entry.filename
            if path.exists():
                # An earlier attempt is still queued; sending again now could race it.
                return "queued"
            try:
                return self._send(entry)
            except ChainUnavailable as exc:
                self._reschedule(entry, exc)
                return "queued"

    def _send(self, entry: Submission) -> Outcome:
        try:
            if entry.kind == "reward":
                assert entry.stage is not None and entry.reward is not None
                self.submitter.submit_reward(entry.round_number, entry.stage, entry.reward, entry.peer_id)
            else:
                self.submitter.submit_winners(entry.round_number, entry.winners, entry.peer_id)
        except ContractRevert as exc:
            if exc.name == "RewardAlreadySubmitted" and not self._landed(entry):
                raise self._taken(entry) from None
            if exc.name in ALREADY_DONE:
                log.info("%s was already on chain", entry.key)
                return "already"
            raise
        log.info("%s submitted", entry.key)
        return "sent"

    def _resend(self, entry: Submission) -> Outcome:
        if self._landed(entry):
            log.info("%s had landed before the connection failed; not resending", entry.key)
            return "already"
        return self._send(entry)

    def _landed(self, entry: Submission) -> bool:
        if entry.kind == "winners":
            return self.reader.vote_landed(entry.round_number, entry.peer_id)
        assert entry.stage is not None
        # None means the chain cannot tell for this account; the contract then refuses a duplicate itself.
        return bool(self.reader.reward_landed(entry.round_number, entry.stage, entry.peer_id))

    def _taken(self, entry: Submission) -> AccountAlreadySubmitted:
        """The account's one reward for the stage went to another of its peers (or the chain cannot say
        which): reported as a failure, never as delivered."""
        assert entry.stage is not None
        account = self.reader.owner(entry.peer_id) or "this account"
        try:
            submitter = self.reader.reward_submitter(entry.round_number, entry.stage, account)
        except ChainUnavailable:
            raise
        except ChainError:
            submitter = None  # the logs are out of reach: the refusal itself is what counts
        by = f" through peer {submitter}" if submitter else ""
        return AccountAlreadySubmitted(
            f"account {account} already submitted its reward for round {entry.round_number} stage "
            f"{entry.stage}{by}: the reward of {entry.peer_id} for that stage is not counted",
            "the contract pays one reward per account and stage: give each instance its own wallet",
        )

    def _reschedule(self, entry: Submission, exc: ChainError) -> None:
        entry.attempts += 1
        delay = min(self.base_delay_s * 2 ** (entry.attempts - 1), self.max_delay_s)
        entry.next_at = self._clock() + delay * random.uniform(0.8, 1.0)
        entry.last_error = exc.one_line()
        self._write(self.directory / entry.filename, entry)
        log.warning(
            "%s queued (attempt %d, retry in %.0fs): %s", entry.key, entry.attempts, delay, exc.message
        )

    def _give_up(self, entry: Submission, exc: ChainError) -> None:
        entry.last_error = exc.one_line()
        self.failed_directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._write(self.failed_directory / entry.filename, entry)
        self._remove(entry)
        log.error("%s dropped: %s", entry.key, exc.one_line())

    def _remove(self, entry: Submission) -> None:
        (self.directory / entry.filename).unlink(missing_ok=True)

    @staticmethod
    def _write(path: Path, entry: Submission) -> None:
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(entry), sort_keys=True), encoding="utf-8")
        os.replace(tmp, path)

    @staticmethod
    def _load_all(directory: Path) -> list[Submission]:
        entries: list[Submission] = []
        if not directory.is_dir():
            return entries
        for path in directory.glob("*.json"):
            try:
                entries.append(Submission(**json.loads(path.read_text(encoding="utf-8"))))
            except (OSError, ValueError, TypeError):
                log.warning("skipping unreadable queue entry %s", path.name)
        return entries


class RetryWorker:
    """A daemon thread that drains the queue whenever an entry is due, until ``stop()``."""

    def __init__(self, queue: SubmissionQueue, *, idle_poll_s: float = 5.0) -> None:
        self.queue = queue
        self.idle_poll_s = idle_poll_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="chain-retry", daemon=True)

    def start(self) -> RetryWorker:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.is_set():
            due = self.queue.next_due_in()
            if due is None or due > 0:
                self._stop.wait(self.idle_poll_s if due is None else min(due, self.idle_poll_s))
                continue
            try:
                self.queue.drain()
            except Exception:
                log.exception("retrying queued chain submissions failed")
                self._stop.wait(self.idle_poll_s)
