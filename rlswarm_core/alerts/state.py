"""Which alerts are active, and how their delivery went: ``<state>/alerts/state.json``, shared by all
supervisors of the machine under a file lock.

An alert is sent when its condition starts and once more ("resolved") when it clears, never while it
merely continues: the active set is the deduplication, and it survives supervisor restarts. Machine-wide
conditions (the disk) are seen by every supervisor; the lock makes exactly one of them send each change.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rlswarm_core.system.paths import app_paths

STATE_FILE = "state.json"
HISTORY = 100


def folder() -> Path:
    return app_paths().state / "alerts"


def alert_key(instance: str | None, rule: str) -> str:
    return f"{instance}/{rule}" if instance else f"machine/{rule}"


def _read(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError, OSError):
        return {}
    return data if isinstance(data, dict) else {}


@contextmanager
def locked() -> Iterator[dict[str, Any]]:
    """The state, for reading and changing; written back atomically when the block ends without error."""
    from filelock import FileLock

    where = folder()
    where.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = where / STATE_FILE
    with FileLock(str(where / "state.lock"), timeout=30):
        data = _read(path)
        data.setdefault("active", {})
        data.setdefault("deliveries", {})
        data.setdefault("history", [])
        yield data
        tmp = path.with_name(f"{STATE_FILE}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(data, indent=1, sort_keys=True), encoding="utf-8")
        tmp.replace(path)


def read() -> dict[str, Any]:
    data = _read(folder() / STATE_FILE)
    return {"active": data.get("active") or {}, "deliveries": data.get("deliveries") or {},
            "history": data.get("history") or []}  # fmt: skip


def transition(data: dict[str, Any], key: str, firing: bool, detail: str, now: float) -> str | None:
    """Record a condition's value; returns "firing" or "resolved" when that is news, else None."""
    active = data["active"]
    if firing and key not in active:
        active[key] = {"since": now, "detail": detail}
        change = "firing"
    elif not firing and key in active:
        del active[key]
        change = "resolved"
    else:
        return None
    data["history"] = [*data["history"], {"key": key, "status": change, "at": now, "detail": detail}][
        -HISTORY:
    ]
    return change


def record_delivery(channel: str, error: str | None) -> None:
    with locked() as data:
        entry = data["deliveries"].setdefault(channel, {})
        if error is None:
            entry["last_ok"] = time.time()
        else:
            entry["last_error"] = error
            entry["last_error_at"] = time.time()
