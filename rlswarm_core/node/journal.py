"""The node's append-only event stream: one JSON object per line in the state directory.

The live panel, ``rewards`` and ``instances list`` read this file (and the DHT or chain), never the
trainer's internals.

Writing survives a bad disk (see :mod:`rlswarm_core.node.appender`): no torn line is left by a failed
write, and while the file cannot be written (a full disk, say) events are kept in memory and written
once it can; the outage is reported once on the bus as :class:`JournalWriteFailed` and its end as
:class:`JournalRecovered`. Nothing here ever raises into the node.

Opening repairs a torn tail (a crash mid-write): a last line without its newline is cut off, unless it
is a whole event, which only gets its newline, so the next event starts on a line of its own.

Every batch that reaches the file is also folded into the journal's rewards summary
(:mod:`rlswarm_core.rewards.summary`), saved beside it now and then and on close, so ``rewards`` reads
the summary and the few lines after it instead of the whole journal.

Readers skip lines that are not whole events (torn, garbled, or valid JSON without the fields of their
kind) and count them; see :mod:`rlswarm_core.node.lines`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rlswarm_core.node.appender import MAX_PENDING, RETRY_S, LineAppender, Outage, Recovery
from rlswarm_core.node.events import JournalRecovered, JournalRepaired, JournalWriteFailed
from rlswarm_core.node.journal_lines import JOURNAL_NAME, is_whole_event, parse_line, required_fields
from rlswarm_core.rewards.summary import WRITER_SAVE_S, SummaryKeeper
from rlswarm_core.secrets.redact import redact
from rlswarm_core.swarm.events import Event

__all__ = [
    "JOURNAL_NAME",
    "EventJournal",
    "JournalRead",
    "event_line",
    "event_to_dict",
    "is_whole_event",
    "parse_line",
    "read_events",
    "read_journal",
    "repair_torn_tail",
    "required_fields",
]

_TAIL_BLOCK = 64 * 1024


def event_to_dict(event: Event) -> dict[str, Any]:
    data = dataclasses.asdict(event)
    data["kind"] = event.kind
    return data


def event_line(event: Event) -> bytes:
    """One event as the journal writes it: sorted keys, secrets redacted, a newline at the end."""
    return (redact(json.dumps(event_to_dict(event), default=str, sort_keys=True)) + "\n").encode()


# ---- writing --------------------------------------------------------------------------------------------


def repair_torn_tail(path: Path) -> int:
    """Cut off a torn last line (see the module docstring); the number of bytes removed."""
    try:
        handle = open(path, "r+b")  # noqa: SIM115 - closed below
    except FileNotFoundError:
        return 0
    with handle:
        size = handle.seek(0, os.SEEK_END)
        if size == 0:
            return 0
        handle.seek(size - 1)
        if handle.read(1) == b"\n":
            return 0
        start, end = 0, size
        while end > 0:
            begin = max(0, end - _TAIL_BLOCK)
            handle.seek(begin)
            newline = handle.read(end - begin).rfind(b"\n")
            if newline >= 0:
                start = begin + newline + 1
                break
            end = begin
        handle.seek(start)
        if parse_line(handle.read()) is not None:
            handle.seek(size)
            handle.write(b"\n")
            return 0
        handle.truncate(start)
        return size - start


class EventJournal:
    """A subscriber that appends every event to ``path``; see the module docstring for failures."""

    def __init__(
        self,
        path: Path,
        max_pending: int = MAX_PENDING,
        retry_s: float = RETRY_S,
        summary_every_s: float = WRITER_SAVE_S,
    ) -> None:
        self.path = Path(path)
        self._report: Callable[[Event], None] | None = None
        self.removed_bytes = 0
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.removed_bytes = repair_torn_tail(self.path)
        except OSError:
            pass  # the first write reports a journal that cannot be used
        # after the repair, so the summary follows whole lines only; without one, readers read it all
        self.summary: SummaryKeeper | None = None
        with contextlib.suppress(Exception):
            self.summary = SummaryKeeper(self.path, save_every_s=summary_every_s)
        follow = self.summary.written if self.summary is not None else None
        self._file = LineAppender(self.path, max_pending=max_pending, retry_s=retry_s, on_written=follow)

    def attach(self, bus: Any) -> None:
        """Subscribe to ``bus`` and report this journal's own trouble (repair, outage) on it."""
        self._report = bus.emit
        bus.subscribe(self)
        if self.removed_bytes:
            bus.emit(JournalRepaired(path=str(self.path), removed_bytes=self.removed_bytes))

    @property
    def pending(self) -> int:
        return self._file.pending

    def __call__(self, event: Event) -> None:
        self._tell(self._file.write(event_line(event)))

    def close(self) -> None:
        change, unwritten = self._file.close()
        if self.summary is not None:
            with contextlib.suppress(Exception):
                self.summary.close()
        if unwritten:
            # one notice that says what was lost, rather than "failing" and "lost" back to back
            message = f"{unwritten} event(s) could not be written to {self.path} before the node stopped"
            self._tell(Outage(message), unwritten)
        else:
            self._tell(change)

    def _tell(self, change: Outage | Recovery | None, unwritten: int = 0) -> None:
        if change is None or self._report is None:
            return
        if isinstance(change, Outage):
            hint = "" if unwritten else "; events are kept in memory until it can be written again"
            notice: Event = JournalWriteFailed(
                path=str(self.path), message=f"event journal: {change.message}{hint}", unwritten=unwritten
            )
        else:
            notice = JournalRecovered(path=str(self.path), written=change.written, dropped=change.dropped)
        with contextlib.suppress(Exception):
            self._report(notice)


# ---- reading --------------------------------------------------------------------------------------------


@dataclass
class JournalRead:
    events: list[dict[str, Any]]
    skipped: int  # lines that were not whole events


def read_events(path: Path, limit: int | None = None) -> JournalRead:
    """Whole events from a journal, oldest first (of the last ``limit`` lines), and how many lines were
    skipped as torn, garbled or incomplete."""
    try:
        with open(path, "rb") as handle:
            lines = handle.read().splitlines()
    except FileNotFoundError:
        return JournalRead([], 0)
    if limit is not None:
        lines = lines[-limit:]
    events: list[dict[str, Any]] = []
    skipped = 0
    for line in lines:
        if not line.strip():
            continue
        event = parse_line(line)
        if event is None:
            skipped += 1
        else:
            events.append(event)
    return JournalRead(events, skipped)


def read_journal(path: Path, limit: int | None = None) -> Iterator[dict[str, Any]]:
    """Whole events from a journal, oldest first; torn, garbled or incomplete lines are skipped."""
    yield from read_events(path, limit).events
