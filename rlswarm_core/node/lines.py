"""Node events as one-line, human-readable log text (the instance log file and the plain output of a node)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any


def _pass_at_1(event: Any) -> str:
    rate = getattr(event, "pass_at_1", None)
    return f", pass@1 {rate:.1%}" if isinstance(rate, float) else ""


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
        line = f"round {event.round} stage {event.stage} done: reward {event.reward:.3f} in {took}"
        return line + _pass_at_1(event)
    if kind == "RoundFinished":
        vote = ", ".join(event.vote) or "none"
        return f"round {event.round} done: reward {event.reward:.3f}{_pass_at_1(event)}, vote {vote}"
    if kind == "CheckpointSaved":
        return f"checkpoint for round {event.round}: {event.path}"
    if kind in ("CheckpointFailed", "SwarmErrorEvent", "JournalWriteFailed"):
        return f"warning: {getattr(event, 'message', '')}"
    if kind == "CheckpointSkipped":
        return f"warning: skipped the damaged checkpoint of round {event.round}: {event.reason}"
    if kind == "JournalRecovered":
        lost = f"; {event.dropped} older event(s) did not fit in memory" if event.dropped else ""
        return f"event journal writable again: {event.written} held event(s) written{lost}"
    if kind == "JournalRepaired":
        return f"event journal {event.path}: removed a torn last line ({event.removed_bytes} bytes)"
    if kind == "PushDone":
        return f"pushed round {event.round} to {event.url} ({event.files} files)"
    if kind == "PushFailed":
        again = f", retrying in {event.retry_in_s:.0f} s" if event.will_retry else ""
        return f"warning: push of round {event.round} to {event.repo_id} failed: {event.message}{again}"
    if kind == "StartupPhase":
        return f"{event.phase}…"
    if kind == "Resumed":
        return f"resumed from the checkpoint of round {event.round}"
    if kind == "StageSkipped":
        return (
            f"fell behind: skipped from round {event.from_round} stage {event.from_stage} "
            f"to round {event.to_round} stage {event.to_stage}"
        )
    if kind == "PeerCountChanged":
        return f"peers: {event.peers}"
    if kind == "ChainUnavailable":
        return f"warning: chain endpoint unreachable ({event.message}); retrying, training goes on"
    if kind == "ChainRecovered":
        return f"chain endpoint answers again after {event.down_s:.0f} s"
    if kind == "StageClosed" and event.reason != "all":
        gone = ", ".join(event.missing) or "none"
        return (
            f"round {event.round} stage {event.stage} closed by {event.reason} after {event.waited_s:.1f} s; "
            f"stopped waiting for: {gone}"
        )
    if kind == "ClaimFlagged":
        return (
            f"warning: peer {event.peer_id} claims {event.claimed:.3f} for round {event.round} stage "
            f"{event.stage} ({event.what}), its outputs earn {event.recomputed:.3f}: ranked by the latter"
        )
    if kind == "OutputsDropped":
        return (
            f"warning: dropped {event.dropped} output(s) ({event.dropped_bytes} bytes) of peer "
            f"{event.peer_id} for round {event.round} stage {event.stage}: over the per-peer cap"
        )
    if kind == "SwarmLooksStopped":
        return (
            f"warning: this swarm looks stopped: {event.swarm} shows no round progress and no bootnode "
            f"answers for {event.quiet_s:.0f} s; ask its host to run `rlswarm swarm serve`, or join another"
        )
    if kind == "SwarmResumed":
        return f"swarm {event.swarm} moves again (round {event.round} stage {event.stage})"
    if kind == "ReachabilityChecked":
        return _reachability_line(event)
    if kind == "ChainSubmitted":
        return f"chain {event.what} for round {event.round}: {event.status} {event.message}".rstrip()
    return None


def _reachability_line(event: Any) -> str:
    if event.reachable is None:
        return f"reachability not checked: {event.reason}"
    if event.reachable:
        note = f"; {event.fix}" if event.fix else ""
        return f"reachable from outside at {event.address}{note}"
    tried = ", ".join(event.tried) or "no address"
    return f"warning: peers cannot dial this node ({tried}: {event.reason}); {event.fix}"


def stamped(event: Any) -> str | None:
    text = describe(event)
    if text is None:
        return None
    return f"{time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(event.at))} {text}"


class InstanceLog:
    """The instance's log file (``logs/NAME.log``): one stamped line per event worth reading, and the
    node's notices; lines are redacted and flushed whole. The DHT process appends to the same file."""

    def __init__(self, path: Path) -> None:
        from rlswarm_core.node.appender import LineAppender
        from rlswarm_core.system.paths import private_dir

        self.path = Path(path)
        private_dir(self.path.parent)
        # never raises: a full disk costs log lines (kept until it frees), not the node or the display
        self._file = LineAppender(self.path)

    def __call__(self, event: Any) -> None:
        self.write(stamped(event))

    def notice(self, level: str, text: str) -> None:
        prefix = "" if level in ("info", "success") else f"{level}: "
        self.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {prefix}{text}")

    def write(self, line: str | None) -> None:
        from rlswarm_core.secrets.redact import redact

        if line is None:
            return
        self._file.write((redact(line) + "\n").encode("utf-8", errors="replace"))

    def close(self) -> None:
        self._file.close()
