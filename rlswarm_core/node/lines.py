"""Node events as one-line, human-readable log text (the instance log file and the plain output of a node)."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any


def describe(event: Any) -> str | None:
    """The line for an event, or None for events an operator does not need to read."""
    kind = event.kind
    if kind == "NodeStarted":
        where = f"{event.device}/{event.dtype}"
        return f"node {event.peer_id} ({event.animal_name}) on {where}, model {event.model}"
    if kind == "Joined":
        return f"joined the swarm at {', '.join(event.maddrs) or 'no address'}"
    if kind == "StageStarted":
        return f"round {event.round} stage {event.stage} started" + (
            " (joined late)" if event.late_join else ""
        )
    if kind == "StepDone":
        return (
            f"round {event.round} stage {event.stage}: step {event.step}/{event.steps}, "
            f"reward {event.reward:.3f}, {event.tokens_per_second:.0f} tok/s"
        )
    if kind == "StageFinished":
        took = f"{event.seconds:.1f} s"
        return f"round {event.round} stage {event.stage} done: reward {event.reward:.3f} in {took}"
    if kind == "RoundFinished":
        return f"round {event.round} done: reward {event.reward:.3f}, vote {', '.join(event.vote) or 'none'}"
    if kind == "CheckpointSaved":
        return f"checkpoint for round {event.round}: {event.path}"
    if kind in ("CheckpointFailed", "SwarmErrorEvent"):
        return f"warning: {getattr(event, 'message', '')}"
    if kind == "PushDone":
        return f"pushed round {event.round} to {event.url} ({event.files} files)"
    if kind == "PushFailed":
        again = f", retrying in {event.retry_in_s:.0f} s" if event.will_retry else ""
        return f"warning: push of round {event.round} to {event.repo_id} failed: {event.message}{again}"
    if kind == "Resumed":
        return f"resumed from the checkpoint of round {event.round}"
    if kind == "StageSkipped":
        return (
            f"fell behind: skipped from round {event.from_round} stage {event.from_stage} "
            f"to round {event.to_round} stage {event.to_stage}"
        )
    if kind == "PeerCountChanged":
        return f"peers: {event.peers}"
    if kind == "ChainSubmitted":
        return f"chain {event.what} for round {event.round}: {event.status} {event.message}".rstrip()
    return None


def stamped(event: Any) -> str | None:
    text = describe(event)
    if text is None:
        return None
    return f"{time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(event.at))} {text}"


class InstanceLog:
    """The instance's log file (``logs/NAME.log``): one stamped line per event worth reading, and the
    node's notices; lines are redacted and flushed whole. The DHT process appends to the same file."""

    def __init__(self, path: Path) -> None:
        from rlswarm_core.system.paths import private_dir

        self.path = Path(path)
        private_dir(self.path.parent)
        self._lock = threading.Lock()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        self._handle = os.fdopen(fd, "a", encoding="utf-8", errors="replace")

    def __call__(self, event: Any) -> None:
        self.write(stamped(event))

    def notice(self, level: str, text: str) -> None:
        prefix = "" if level in ("info", "success") else f"{level}: "
        self.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {prefix}{text}")

    def write(self, line: str | None) -> None:
        from rlswarm_core.secrets.redact import redact

        if line is None:
            return
        with self._lock:
            if not self._handle.closed:
                self._handle.write(redact(line) + "\n")
                self._handle.flush()

    def close(self) -> None:
        with self._lock:
            self._handle.close()
