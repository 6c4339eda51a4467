"""Appending whole lines to a file that may stop accepting them (a full disk), without ever raising.

Each batch of lines goes out as one ``write`` to a file opened for appending; a write that fails
part-way is cut back to where it started, so no torn line is left. Lines that cannot be written are
kept in memory (up to ``max_pending``, the oldest dropped first) and written, in order, with a later
line once the file accepts them again; while it does not, a write is tried at most every ``retry_s``.

The caller learns of each change of state once: :meth:`LineAppender.write` returns a
:class:`Outage` when writing starts to fail and a :class:`Recovery` when it works again. An optional
``on_written`` callback sees every batch that reached the file, with the offset it was written at
(the journal's rewards summary follows the file this way).
"""

from __future__ import annotations

import collections
import contextlib
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

MAX_PENDING = 10_000
RETRY_S = 1.0


@dataclass(frozen=True)
class Outage:
    message: str


@dataclass(frozen=True)
class Recovery:
    written: int
    dropped: int


class LineAppender:
    def __init__(
        self,
        path: Path,
        max_pending: int = MAX_PENDING,
        retry_s: float = RETRY_S,
        on_written: Callable[[bytes, int], None] | None = None,
    ) -> None:
        self.path = Path(path)
        self.on_written = on_written
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._closed = False
        self._pending: collections.deque[bytes] = collections.deque()
        self._max_pending = max_pending
        self._retry_s = retry_s
        self._dropped = 0
        self._failing = False
        self._last_try = 0.0

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._pending)

    def write(self, line: bytes) -> Outage | Recovery | None:
        """Append ``line`` (newline included), or keep it for later; what changed, if anything."""
        with self._lock:
            if self._closed:
                return None
            self._pending.append(line)
            while len(self._pending) > self._max_pending:
                self._pending.popleft()
                self._dropped += 1
            if self._failing and time.monotonic() - self._last_try < self._retry_s:
                return None
            return self._flush()

    def close(self) -> tuple[Outage | Recovery | None, int]:
        """A last try, then close; what changed, and how many lines were never written."""
        with self._lock:
            if self._closed:
                return None, 0
            change = self._flush()
            unwritten = len(self._pending) + self._dropped
            self._closed = True
            self._pending.clear()
            if self._fd is not None:
                with contextlib.suppress(OSError):
                    os.close(self._fd)
                self._fd = None
        return change, unwritten

    def _flush(self) -> Outage | Recovery | None:
        self._last_try = time.monotonic()
        data = b"".join(self._pending)
        try:
            start = self._append(data)
        except OSError as exc:
            if self._failing:
                return None
            self._failing = True
            return Outage(f"cannot write {self.path}: {exc.strerror or exc}")
        written = len(self._pending)
        self._pending.clear()
        if self.on_written is not None and data:
            with contextlib.suppress(Exception):  # a follower of the file never stops the writing
                self.on_written(data, start)
        if not self._failing:
            return None
        self._failing = False
        dropped, self._dropped = self._dropped, 0
        return Recovery(written=written, dropped=dropped)

    def _append(self, data: bytes) -> int:
        """Append ``data`` in full or not at all; the offset it starts at."""
        if self._fd is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
        start = os.lseek(self._fd, 0, os.SEEK_END)
        view = memoryview(data)
        try:
            while view:
                view = view[os.write(self._fd, view) :]
        except OSError:
            # a full disk may have taken part of the data: cut it back so no torn line is left
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, start)
            raise
        return start
