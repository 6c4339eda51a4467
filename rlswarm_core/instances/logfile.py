"""A size-capped log file (``NAME.log``, rotated to ``NAME.log.1`` .. ``.N``) and a Python ``tail -f``."""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

DEFAULT_MAX_BYTES = 10 * 1024 * 1024
DEFAULT_BACKUPS = 3


class RotatingLog:
    """Appends lines; past ``max_bytes`` the file is copied to ``.1`` (older copies shift up) and truncated.

    Copy-and-truncate rather than rename, because the node appends to the same file through its own
    handle: an append-mode writer simply continues at the new, empty end.
    """

    def __init__(
        self, path: Path, max_bytes: int = DEFAULT_MAX_BYTES, backups: int = DEFAULT_BACKUPS
    ) -> None:
        self.path = Path(path)
        self.max_bytes = max_bytes
        self.backups = max(1, backups)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._handle = open(self.path, "a", encoding="utf-8", errors="replace")  # noqa: SIM115

    def maybe_rotate(self) -> bool:
        with self._lock:
            return self._rotate_locked()

    def _rotate_locked(self) -> bool:
        try:
            if self.path.stat().st_size < self.max_bytes:
                return False
        except FileNotFoundError:
            return False
        for index in range(self.backups - 1, 0, -1):
            older = self.path.with_name(f"{self.path.name}.{index}")
            if older.exists():
                older.replace(self.path.with_name(f"{self.path.name}.{index + 1}"))
        shutil.copyfile(self.path, self.path.with_name(f"{self.path.name}.1"))
        with open(self.path, "r+b") as handle:
            handle.truncate(0)
        return True

    def write(self, line: str) -> None:
        if not line.endswith("\n"):
            line += "\n"
        with self._lock:
            if self._handle.closed:
                return
            self._handle.write(line)
            self._handle.flush()
            self._rotate_locked()

    def note(self, text: str) -> None:
        """A line from the supervisor itself, stamped so it stands out from the node's own lines."""
        self.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} [supervisor] {text}")

    def close(self) -> None:
        with self._lock:
            self._handle.close()


def last_lines(path: Path, count: int) -> list[str]:
    """The last ``count`` lines of a file, read from the end so a large log costs little."""
    if count <= 0:
        return []
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            block = 8192
            data = b""
            while size > 0 and data.count(b"\n") <= count:
                step = min(block, size)
                size -= step
                handle.seek(size)
                data = handle.read(step) + data
    except FileNotFoundError:
        return []
    lines = data.decode("utf-8", errors="replace").splitlines()
    return lines[-count:]


def follow(path: Path, should_stop: Callable[[], bool] = lambda: False, poll_s: float = 0.2) -> Iterator[str]:
    """New lines appended to ``path`` from now on, across rotation (a new inode or a shorter file)."""
    handle = None
    inode = None
    buffer = ""
    # what is already in the file was shown by the caller; a file that appears later is read whole
    skip_existing = True
    while not should_stop():
        if handle is None:
            try:
                handle = open(path, encoding="utf-8", errors="replace")  # noqa: SIM115
            except FileNotFoundError:
                skip_existing = False
                time.sleep(poll_s)
                continue
            inode = os.fstat(handle.fileno()).st_ino
            if skip_existing:
                handle.seek(0, os.SEEK_END)
            skip_existing = False
        chunk = handle.read()
        if chunk:
            buffer += chunk
            *complete, buffer = buffer.split("\n")
            yield from complete
            continue
        try:
            current = os.stat(path)
            rotated = current.st_ino != inode or current.st_size < handle.tell()
        except FileNotFoundError:
            rotated = True
        if rotated:
            # the writer moved on to a fresh file: read it from its start
            handle.close()
            try:
                handle = open(path, encoding="utf-8", errors="replace")  # noqa: SIM115
                inode = os.fstat(handle.fileno()).st_ino
            except FileNotFoundError:
                handle = None
            continue
        time.sleep(poll_s)
    if handle is not None:
        handle.close()
