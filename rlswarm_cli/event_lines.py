"""Node events as one-line, human-readable log text (the plain output of ``join`` and its log file)."""

from __future__ import annotations

import time
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
    if kind == "ChainSubmitted":
        return f"chain {event.what} for round {event.round}: {event.status} {event.message}".rstrip()
    return None


def stamped(event: Any) -> str | None:
    text = describe(event)
    if text is None:
        return None
    return f"{time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(event.at))} {text}"
