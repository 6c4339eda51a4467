"""The aggregates ``rewards`` shows, folded from a journal's bytes one chunk at a time.

Folding a journal in pieces cut at line ends gives the same state as folding it whole: that is what lets
a saved state stand for a journal's first bytes, and a reader fold only what was written after them
(:mod:`rlswarm_core.rewards.summary`).

Only the few kinds that change the aggregates are decoded. Their lines are found with one regular
expression over the bytes, so the many per-step lines are never split or parsed; of the kinds where
only the latest value counts (steps, peer counts, leaderboards), each chunk's last whole line is parsed.

A line of a decoded kind that is not a whole event (torn by a crash, or valid JSON missing a field its
kind requires) is counted in ``skipped``; so are incomplete lines of the latest-value kinds after the
last whole one, and a torn last line of any other kind.
"""

from __future__ import annotations

import bisect
import re
from typing import Any

import msgspec

from rlswarm_core.node.journal_lines import parse_line
from rlswarm_core.rewards.model import Rewards, StageReward

_DECODED = (
    "ChainSubmitted",
    "NodeStarted",
    "NodeStopped",
    "Resumed",
    "RewardsPublished",
    "RoundFinished",
    "StageFinished",
    "StageStarted",
)
_LATEST = ("LeaderboardChanged", "PeerCountChanged", "StepDone")
_DECODED_RE = re.compile(rb'"kind": "(' + b"|".join(k.encode() for k in _DECODED) + rb')"')
_LATEST_PATTERNS = tuple((kind, f'"kind": "{kind}"'.encode()) for kind in _LATEST)
_READ_PATTERNS = tuple(f'"kind": "{kind}"'.encode() for kind in (*_DECODED, *_LATEST))


def _line_at(chunk: bytes, pos: int) -> bytes:
    end = chunk.find(b"\n", pos)
    return chunk[chunk.rfind(b"\n", 0, pos) + 1 : end if end >= 0 else len(chunk)]


def _stage_key(stage: StageReward) -> tuple[int, int]:
    return (stage.round, stage.stage)


class RewardsFold(msgspec.Struct):
    """The fold's whole state; saved as it is (a msgspec struct: fast to save and to load)."""

    peer_id: str = ""
    animal_name: str = ""
    started_at: float | None = None
    # one per (round, stage), in that order; a later StageFinished of the same stage replaces it
    stages: list[StageReward] = msgspec.field(default_factory=list)
    wins: int = 0
    votes: int = 0
    pass_at_1: float | None = None
    last_active_round: int | None = None
    submissions: dict[str, int] = msgspec.field(default_factory=dict)
    # failed submissions by reason (e.g. "account_already_submitted": the account is shared)
    failures: dict[str, int] = msgspec.field(default_factory=dict)
    lifecycle: str = ""  # the last of NodeStarted / NodeStopped
    position: tuple[int, int] | None = None  # the furthest (round, stage) a stage event named
    step: tuple[int | None, int | None, float] | None = None  # the last step: round, stage, tokens/s
    peers: int | None = None
    board: list[str] | None = None  # peer ids of the last leaderboard, best first
    skipped: int = 0
    # incomplete lines of each latest-value kind after its last whole one (they count while they trail)
    trailing: dict[str, int] = msgspec.field(default_factory=dict)
    last_at: float | None = None  # "at" of the last line, None when it is not a whole event
    last_torn: bool = False  # the last line is torn and of a kind no other rule counts

    # ---- folding ----------------------------------------------------------------------------------

    def feed(self, chunk: bytes) -> None:
        """Fold the next bytes of the journal: whole lines, except at the very end of what is written."""
        for match in _DECODED_RE.finditer(chunk):
            event = parse_line(_line_at(chunk, match.start()))
            kind = match.group(1).decode()
            if event is None or event["kind"] != kind:
                self.skipped += 1
                continue
            try:
                self._apply(kind, event)
            except (TypeError, ValueError):  # a field of the wrong type: as good as missing
                self.skipped += 1
        for kind, pattern in _LATEST_PATTERNS:
            end, incomplete = len(chunk), 0
            while (pos := chunk.rfind(pattern, 0, end)) >= 0:
                event = parse_line(_line_at(chunk, pos))
                if event is not None and event["kind"] == kind and self._take_latest(kind, event):
                    if incomplete:
                        self.trailing[kind] = incomplete
                    else:  # only counts that are not zero: the same state however the bytes came
                        self.trailing.pop(kind, None)
                    break
                incomplete += 1
                end = pos
            else:
                if incomplete:
                    self.trailing[kind] = self.trailing.get(kind, 0) + incomplete
        body = chunk.rstrip(b"\n")
        if body:
            last = body[body.rfind(b"\n") + 1 :]
            tail = parse_line(last) if last.strip() else None
            self.last_at = (float(tail["at"]) or None) if tail is not None else None
            self.last_torn = (
                tail is None and bool(last.strip()) and not any(p in last for p in _READ_PATTERNS)
            )

    def _advance(self, event: dict[str, Any]) -> None:
        r, s = event.get("round"), event.get("stage")
        if type(r) is int and type(s) is int and (self.position is None or (r, s) > self.position):
            self.position = (r, s)

    def _active(self, round_number: Any) -> None:
        if type(round_number) is int:
            self.last_active_round = max(self.last_active_round or round_number, round_number)

    def _apply(self, kind: str, event: dict[str, Any]) -> None:
        if kind in ("NodeStarted", "NodeStopped"):
            if kind == "NodeStarted":
                self.peer_id = str(event.get("peer_id") or "")
                self.animal_name = str(event.get("animal_name") or "")
                self.started_at = float(event.get("at") or 0) or None
            self.lifecycle = kind
        elif kind == "StageStarted":
            self._advance(event)
        elif kind == "StageFinished":
            key = (int(event["round"]), int(event["stage"]))
            reward = float(event.get("reward") or 0)
            rate = event.get("pass_at_1")
            at = float(event.get("at") or 0)
            self._put(StageReward(key[0], key[1], reward, at, float(rate) if rate is not None else None))
            if reward > 0:
                self._active(key[0])
            self._advance(event)
        elif kind == "RewardsPublished":
            self._active(event.get("round"))
        elif kind == "RoundFinished":
            if self.peer_id and self.peer_id in (event.get("winners") or []):
                self.wins += 1
            if event.get("vote"):
                self.votes += 1
            if event.get("pass_at_1") is not None:
                self.pass_at_1 = float(event["pass_at_1"])
        elif kind == "ChainSubmitted":
            status = str(event.get("status") or "")
            self.submissions[status] = self.submissions.get(status, 0) + 1
            reason = str(event.get("reason") or "")
            if status == "failed" and reason:
                self.failures[reason] = self.failures.get(reason, 0) + 1
            if status in ("sent", "already"):
                self._active(event.get("round"))

    def _put(self, stage: StageReward) -> None:
        key = _stage_key(stage)
        if not self.stages or _stage_key(self.stages[-1]) < key:
            self.stages.append(stage)  # the usual case: stages come in order
            return
        index = bisect.bisect_left(self.stages, key, key=_stage_key)
        if index < len(self.stages) and _stage_key(self.stages[index]) == key:
            self.stages[index] = stage
        else:
            self.stages.insert(index, stage)

    def _take_latest(self, kind: str, event: dict[str, Any]) -> bool:
        """Keep the latest value of ``kind``; False when a field has the wrong type (an incomplete line)."""
        try:
            if kind == "StepDone":
                self.step = (
                    event.get("round"),
                    event.get("stage"),
                    float(event.get("tokens_per_second") or 0),
                )
            elif kind == "PeerCountChanged":
                self.peers = int(event.get("peers") or 0)
            else:
                self.board = [str(entry[0]) for entry in event.get("top") or [] if entry]
        except (TypeError, ValueError, KeyError, IndexError):
            return False
        return True

    # ---- what it shows ----------------------------------------------------------------------------

    def rewards(self, name: str) -> Rewards:
        result = Rewards(
            name=name,
            peer_id=self.peer_id,
            animal_name=self.animal_name,
            stages=list(self.stages),
            wins=self.wins,
            votes=self.votes,
            pass_at_1=self.pass_at_1,
            last_active_round=self.last_active_round,
            submissions=dict(self.submissions),
            failures=dict(self.failures),
            running=self.lifecycle == "NodeStarted",
            started_at=self.started_at,
            last_event_at=self.last_at,
            peers=self.peers,
            skipped_lines=self.skipped + sum(self.trailing.values()) + int(self.last_torn),
        )
        result.total = round(sum(s.reward for s in result.stages), 6)
        position = self.position
        if self.step is not None:
            result.tokens_per_second = self.step[2]
            r, s = self.step[0], self.step[1]
            if type(r) is int and type(s) is int and (position is None or (r, s) > position):
                position = (r, s)
        if position is not None:
            result.round, result.stage = position
        if self.board is not None:
            result.leaderboard_size = len(self.board)
            result.rank = self.board.index(self.peer_id) + 1 if self.peer_id in self.board else None
        return result
