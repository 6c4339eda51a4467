"""A journal's rewards summary: the fold of its first bytes, saved next to it, so ``rewards`` need not
re-read months of events.

``events.summary.json`` beside ``events.jsonl`` holds a :class:`~rlswarm_core.rewards.fold.RewardsFold`
state and the journal offset it covers (always a line end), with digests of the first and last 4 KB
before that offset. A reader takes the summary only when the journal is at least that long and those
bytes still match, then folds just the bytes written since; otherwise it folds the whole journal. So
a summary older than its journal (a crash before the next save), a journal cut short (a torn tail
repaired, data lost with the page cache) or replaced, and a summary that is garbled all give the same
answer as a full re-read; only the time differs. (The journal is append-only: a hand edit in its middle
that keeps those bytes and its length is not looked for; deleting the summary forces a full read.)

The node keeps the summary current as it writes (:class:`SummaryKeeper`, fed by the journal's writer);
a reader that had to fold much (a journal from before summaries, or one whose node crashed long after
its last save) saves what it folded, so the full read happens once.

Saving writes a temporary file and renames it over the old summary: a crash or a full disk leaves the
old summary or the new one, never a torn one, and failing to save is never an error, only a slower
next read.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
import time
from pathlib import Path
from typing import BinaryIO

import msgspec

from rlswarm_core.rewards.fold import RewardsFold
from rlswarm_core.rewards.model import Rewards

SUMMARY_SUFFIX = ".summary.json"
# a reader saves what it folded when it read at least this much past the summary
READER_SAVE_BYTES = 1 << 20
# the writer saves at most this often (and when it closes); readers fold what came after
WRITER_SAVE_S = 30.0
_CHECK = 4096
_BLOCK = 4 << 20
# the layout of the saved summary; bump it when RewardsFold changes (an older summary is then rebuilt)
VERSION = 1


class Saved(msgspec.Struct):
    version: int
    offset: int  # the journal bytes the fold covers (a line end)
    check: list[str]  # digests of the first and the last 4 KB before ``offset``
    fold: RewardsFold


def summary_path(journal: Path) -> Path:
    """``events.summary.json`` for ``events.jsonl``."""
    return journal.with_name(journal.stem + SUMMARY_SUFFIX)


def _digests(handle: BinaryIO, offset: int) -> list[str]:
    """Digests of the first and of the last ``_CHECK`` bytes before ``offset``."""
    parts = []
    for start in (0, max(0, offset - _CHECK)):
        handle.seek(start)
        parts.append(hashlib.sha256(handle.read(min(_CHECK, offset - start))).hexdigest())
    return parts


def _load(journal: Path, handle: BinaryIO, size: int) -> tuple[RewardsFold, int] | None:
    """The saved fold and the offset it covers, if it still describes the start of this journal."""
    try:
        saved = msgspec.json.decode(summary_path(journal).read_bytes(), type=Saved)
    except (OSError, msgspec.DecodeError):
        return None
    if saved.version != VERSION or not 0 < saved.offset <= size:
        return None
    if saved.check != _digests(handle, saved.offset):
        return None
    return saved.fold, saved.offset


def save(journal: Path, fold: RewardsFold, offset: int) -> bool:
    """Save ``fold`` as covering the first ``offset`` bytes of ``journal``; False when it could not be."""
    target = summary_path(journal)
    # one temporary name per process and thread: a dashboard reads journals from several threads
    temporary = target.with_name(f".{target.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        with open(journal, "rb") as handle:
            if os.fstat(handle.fileno()).st_size < offset:
                return False
            check = _digests(handle, offset)
        data = msgspec.json.encode(Saved(version=VERSION, offset=offset, check=check, fold=fold))
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        with open(descriptor, "wb") as out:
            out.write(data)
        os.replace(temporary, target)
        return True
    except (OSError, ValueError, msgspec.MsgspecError):
        with contextlib.suppress(OSError):
            temporary.unlink()
        return False


def _fold_lines(fold: RewardsFold, handle: BinaryIO, offset: int, size: int) -> int:
    """Fold the whole lines between ``offset`` and ``size``, a block at a time; the offset reached."""
    handle.seek(offset)
    carry = b""
    while offset + len(carry) < size:
        data = carry + handle.read(min(_BLOCK, size - offset - len(carry)))
        cut = data.rfind(b"\n") + 1
        if cut:
            fold.feed(data[:cut])
            offset += cut
        carry = data[cut:]
    return offset


def _catch_up(journal: Path, handle: BinaryIO, size: int) -> tuple[RewardsFold, int, int]:
    """The fold of every whole line up to ``size``: the saved one plus what came after. Returns the fold,
    the offset it covers and how many bytes had to be read for it."""
    loaded = _load(journal, handle, size)
    fold, start = loaded if loaded is not None else (RewardsFold(), 0)
    offset = _fold_lines(fold, handle, start, size)
    return fold, offset, offset - start


def read_rewards(journal: Path, name: str, save_after: int = READER_SAVE_BYTES) -> Rewards:
    """``rewards``' view of one journal, through its summary (saved anew when much had to be read)."""
    try:
        handle = open(journal, "rb")  # noqa: SIM115 - closed below
    except FileNotFoundError:
        return Rewards(name=name)
    with handle:
        size = os.fstat(handle.fileno()).st_size
        fold, offset, read = _catch_up(journal, handle, size)
        if read >= save_after:
            save(journal, fold, offset)
        if offset < size:  # a last line without its newline: being written, or torn by a crash
            handle.seek(offset)
            fold.feed(handle.read(size - offset))
    return fold.rewards(name)


def full_read(journal: Path, name: str) -> Rewards:
    """The same view from a read of the whole journal, ignoring (and not writing) any summary."""
    fold = RewardsFold()
    try:
        with open(journal, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            offset = _fold_lines(fold, handle, 0, size)
            handle.seek(offset)
            fold.feed(handle.read(size - offset))
    except FileNotFoundError:
        pass
    return fold.rewards(name)


class SummaryKeeper:
    """The writer's side: a fold kept in step with every batch of lines the journal appends, saved at
    most every ``save_every_s`` seconds and on :meth:`close`. Never raises."""

    def __init__(self, journal: Path, save_every_s: float = WRITER_SAVE_S) -> None:
        self.journal = Path(journal)
        self.save_every_s = save_every_s
        self.fold = RewardsFold()
        self.offset = 0
        self._saved_offset = -1
        self._last_save = time.monotonic()
        self._resync()

    def _resync(self) -> None:
        """Catch up with the journal as it is on disk (at open, or after a write it did not see)."""
        try:
            with open(self.journal, "rb") as handle:
                self.fold, self.offset, read = _catch_up(
                    self.journal, handle, os.fstat(handle.fileno()).st_size
                )
        except FileNotFoundError:
            self.fold, self.offset, read = RewardsFold(), 0, 0
        except OSError:
            return
        if read >= READER_SAVE_BYTES:
            self.save()

    def written(self, data: bytes, start: int) -> None:
        """The journal appended ``data`` (whole lines) at byte ``start``."""
        if start != self.offset or not data.endswith(b"\n"):
            self._resync()  # the journal changed behind our back: read it rather than guess
        else:
            self.fold.feed(data)
            self.offset += len(data)
        if time.monotonic() - self._last_save >= self.save_every_s:
            self.save()

    def save(self) -> None:
        if self.offset and self.offset != self._saved_offset and save(self.journal, self.fold, self.offset):
            self._saved_offset = self.offset
        self._last_save = time.monotonic()

    def close(self) -> None:
        self.save()
