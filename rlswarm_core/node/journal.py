"""The node's append-only event stream: one JSON object per line in the state directory.

The live panel, ``rewards`` and ``instances list`` read this file (and the DHT or chain), never the
trainer's internals. Lines are written whole and flushed, so a reader never sees half an event.
"""

from __future__ import annotations

import dataclasses
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rlswarm_core.secrets.redact import redact
from rlswarm_core.swarm.events import Event

JOURNAL_NAME = "events.jsonl"


def event_to_dict(event: Event) -> dict[str, Any]:
    data = dataclasses.asdict(event)
    data["kind"] = event.kind
    return data


class EventJournal:
    """A subscriber that appends every event to ``path``."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._handle = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - closed in close()

    def __call__(self, event: Event) -> None:
        line = redact(json.dumps(event_to_dict(event), default=str, sort_keys=True))
        with self._lock:
            if not self._handle.closed:
                self._handle.write(line + "\n")
                self._handle.flush()

    def close(self) -> None:
        with self._lock:
            self._handle.close()


def read_journal(path: Path, limit: int | None = None) -> Iterator[dict[str, Any]]:
    """Events from a journal, oldest first; a torn or garbled line is skipped."""
    try:
        with open(path, encoding="utf-8") as handle:
            lines = handle.readlines()
    except FileNotFoundError:
        return
    if limit is not None:
        lines = lines[-limit:]
    for line in lines:
        try:
            data = json.loads(line)
        except ValueError:
            continue
        if isinstance(data, dict) and "kind" in data:
            yield data
