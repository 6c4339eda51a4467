"""The supervisor's state file and process liveness.

A pid alone is not proof of life: after a reboot or a crash the number may belong to another program.
Each process is therefore recorded with its start time, and is alive only when both still match.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from rlswarm_core.instances.registry import instance_dir

STATE_FILE = "supervisor.json"
LOCK_FILE = "supervisor.lock"
# create_time is a float rounded by the kernel's clock ticks; this tolerance absorbs the rounding only
_START_TIME_TOLERANCE_S = 0.05


@dataclass(frozen=True)
class ProcRef:
    pid: int
    create_time: float

    @classmethod
    def of(cls, pid: int) -> ProcRef | None:
        import psutil

        try:
            return cls(pid=pid, create_time=psutil.Process(pid).create_time())
        except psutil.Error:
            return None

    @classmethod
    def from_dict(cls, data: Any) -> ProcRef | None:
        if not isinstance(data, dict):
            return None
        try:
            return cls(pid=int(data["pid"]), create_time=float(data["create_time"]))
        except (KeyError, TypeError, ValueError):
            return None

    def process(self) -> Any | None:
        """The live psutil process this reference names, or None when it is gone or the pid was reused."""
        import psutil

        try:
            proc = psutil.Process(self.pid)
            if abs(proc.create_time() - self.create_time) > _START_TIME_TOLERANCE_S:
                return None
            if proc.status() == psutil.STATUS_ZOMBIE:
                return None
            return proc
        except psutil.Error:
            return None

    def alive(self) -> bool:
        return self.process() is not None


def state_path(name: str) -> Path:
    return instance_dir(name) / STATE_FILE


def lock_path(name: str) -> Path:
    return instance_dir(name) / LOCK_FILE


def read_state(name: str) -> dict[str, Any]:
    try:
        data = json.loads(state_path(name).read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError, OSError):
        return {}
    return data if isinstance(data, dict) else {}


def write_state(name: str, data: dict[str, Any]) -> None:
    path = state_path(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{STATE_FILE}.{os.getpid()}.tmp")
    data = {**data, "updated": time.time()}
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True), encoding="utf-8")
    tmp.replace(path)


def ref_dict(ref: ProcRef | None) -> dict[str, Any] | None:
    return asdict(ref) if ref is not None else None


@dataclass(frozen=True)
class Liveness:
    """What the state file says, checked against the live process table."""

    state: str
    supervisor: ProcRef | None
    child: ProcRef | None
    supervisor_alive: bool
    child_alive: bool
    restarts: int
    last_exit_code: int | None
    child_started: float | None
    raw: dict[str, Any]

    @property
    def running(self) -> bool:
        return self.supervisor_alive or self.child_alive


def liveness(name: str) -> Liveness:
    raw = read_state(name)
    sup = ProcRef.from_dict(raw.get("supervisor"))
    child = ProcRef.from_dict(raw.get("child"))
    sup_alive = bool(sup and sup.alive())
    child_alive = bool(child and child.alive())
    recorded = str(raw.get("state") or "stopped")
    if sup_alive:
        state = recorded
    elif child_alive:
        state = "orphaned"  # the supervisor died; its node still runs and 'stop' will end it
    elif recorded in ("stopped", "finished", "failed"):
        state = recorded
    else:
        state = "dead" if raw else "stopped"
    started = raw.get("child_started")
    return Liveness(
        state=state,
        supervisor=sup,
        child=child,
        supervisor_alive=sup_alive,
        child_alive=child_alive,
        restarts=int(raw.get("restarts") or 0),
        last_exit_code=raw.get("last_exit_code"),
        child_started=float(started) if isinstance(started, (int, float)) and child_alive else None,
        raw=raw,
    )


def group_of(ref: ProcRef | None) -> int | None:
    """The process group of a live process (the supervisor and the node each lead their own)."""
    if ref is None or not ref.alive():
        return None
    with contextlib.suppress(OSError):
        return os.getpgid(ref.pid)
    return None
