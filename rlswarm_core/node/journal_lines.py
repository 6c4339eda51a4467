"""What a whole line of the event journal is, for everything that reads one.

A decoded line is a whole event when it has every field its kind requires; anything else (a line torn
by a crash, garbled, or valid JSON missing a field) is skipped by readers and counted.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from typing import Any

from rlswarm_core.hub import events as _hub_events  # noqa: F401 - registers the push events' kinds
from rlswarm_core.node import events as _node_events  # noqa: F401 - registers the node's event kinds
from rlswarm_core.swarm.events import Event

JOURNAL_NAME = "events.jsonl"

_required: dict[str, frozenset[str]] | None = None


def _event_classes(base: type) -> Iterator[type]:
    for cls in base.__subclasses__():
        yield cls
        yield from _event_classes(cls)


def required_fields(kind: str) -> frozenset[str]:
    """The fields every event of ``kind`` has (those without a default), plus ``kind`` and ``at``."""
    global _required
    if _required is None:
        _required = {
            cls.__name__: frozenset(
                f.name
                for f in dataclasses.fields(cls)
                if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
            )
            for cls in _event_classes(Event)
        }
    return _required.get(kind, frozenset()) | {"kind", "at"}


def is_whole_event(data: object) -> bool:
    """A decoded line that is an event with every field its kind requires (an unknown kind needs
    ``kind`` and ``at``, so journals from newer versions stay readable)."""
    if not isinstance(data, dict) or not isinstance(data.get("kind"), str):
        return False
    if not isinstance(data.get("at"), (int, float)):
        return False
    return required_fields(data["kind"]) <= data.keys()


def parse_line(line: str | bytes) -> dict[str, Any] | None:
    """The event on one journal line, or None when the line is not a whole event."""
    try:
        data = json.loads(line)
    except ValueError:
        return None
    return data if is_whole_event(data) else None
