"""The last few events of one kind from a journal, read from its end.

Journals grow without bound and most of their lines are per-step events; reading a growing tail until
enough matches turn up keeps a poll every few seconds cheap on a journal of any length.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

_FIRST_CHUNK = 256 * 1024


def last_events(path: Path, kind: str, count: int = 1) -> list[dict[str, Any]]:
    """Up to ``count`` events of ``kind``, oldest first; torn or garbled lines are skipped."""
    marker = f'"kind": "{kind}"'.encode()
    try:
        handle = open(path, "rb")  # noqa: SIM115 - closed below
    except FileNotFoundError:
        return []
    with handle:
        size = handle.seek(0, os.SEEK_END)
        chunk = _FIRST_CHUNK
        while True:
            start = max(0, size - chunk)
            handle.seek(start)
            data = handle.read(size - start)
            lines = data.split(b"\n")
            if start > 0:
                lines = lines[1:]  # the first line of a tail may be cut
            found = [line for line in lines if marker in line]
            if len(found) >= count or start == 0:
                break
            chunk *= 4
    events = []
    for line in found[-count:]:
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict):
            events.append(event)
    return events
