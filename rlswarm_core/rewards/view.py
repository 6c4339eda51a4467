"""My rewards, read from the nodes' event journals (the default), the DHT or the chain.

Reading must stay fast with long journals: only the few event kinds that matter are decoded, and the
many per-step events are skipped by a substring test before any JSON parsing.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rlswarm_core.errors import RlswarmError
from rlswarm_core.system.paths import app_paths

SPARK = "▁▂▃▄▅▆▇█"
HISTORY = 24
DEFAULT_STALE_ROUNDS = 3
_DECODED = {
    "NodeStarted",
    "NodeStopped",
    "StageStarted",
    "StageFinished",
    "RoundFinished",
    "ChainSubmitted",
    "RewardsPublished",
    "Resumed",
}
_LAST_ONLY = {"StepDone", "LeaderboardChanged", "PeerCountChanged"}


def sparkline(values: list[float]) -> str:
    if not values:
        return ""
    low, high = min(values), max(values)
    span = high - low
    if span <= 0:
        return SPARK[len(SPARK) // 2] * len(values)
    return "".join(SPARK[min(len(SPARK) - 1, int((v - low) / span * (len(SPARK) - 1) + 0.5))] for v in values)


@dataclass
class StageReward:
    round: int
    stage: int
    reward: float
    at: float


@dataclass
class Rewards:
    """One node's rewards as seen from one source."""

    name: str
    peer_id: str = ""
    animal_name: str = ""
    source: str = "local"
    stages: list[StageReward] = field(default_factory=list)
    total: float = 0.0
    wins: int = 0
    votes: int = 0
    rank: int | None = None
    leaderboard_size: int = 0
    round: int | None = None
    stage: int | None = None
    peers: int | None = None
    tokens_per_second: float | None = None
    last_active_round: int | None = None
    submissions: dict[str, int] = field(default_factory=dict)
    # failed submissions by reason (e.g. "account_already_submitted": the account is shared)
    failures: dict[str, int] = field(default_factory=dict)
    running: bool = False
    # the coordinator flagged this peer's claimed reward (it disagrees with what its outputs earn)
    flagged: bool = False
    started_at: float | None = None
    last_event_at: float | None = None
    warning: str | None = None

    @property
    def history(self) -> list[float]:
        return [s.reward for s in self.stages[-HISTORY:]]

    def to_dict(self) -> dict[str, Any]:
        # field by field: dataclasses.asdict deep-copies, which dominates with long histories
        data = {f: getattr(self, f) for f in self.__dataclass_fields__ if f != "stages"}
        data["submissions"] = dict(self.submissions)
        data["failures"] = dict(self.failures)
        data["stages"] = [
            {"round": s.round, "stage": s.stage, "reward": s.reward, "at": s.at} for s in self.stages
        ]
        data["history"] = self.history
        data["sparkline"] = sparkline(self.history)
        return data


_DECODED_RE = re.compile(r'"kind": "(?:' + "|".join(sorted(_DECODED)) + r')"')


def _line_at(text: str, pos: int) -> str:
    return text[text.rfind("\n", 0, pos) + 1 : (text.find("\n", pos) + 1 or len(text) + 1) - 1]


def _last_line_of(text: str, kind: str) -> str | None:
    pos = text.rfind(f'"kind": "{kind}"')
    return _line_at(text, pos) if pos >= 0 else None


def read_summary(journal: Path, name: str) -> Rewards:
    """Everything ``rewards`` and ``instances list`` show, from one read of a journal.

    The regular expression finds the few decoded kinds at C speed; the many per-step lines are never
    split or parsed, and of the "last value" kinds only the final line is.
    """
    result = Rewards(name=name)
    per_stage: dict[tuple[int, int], StageReward] = {}
    lifecycle = ""
    try:
        text = journal.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return result
    for match in _DECODED_RE.finditer(text):
        try:
            event = json.loads(_line_at(text, match.start()))
        except ValueError:
            continue
        kind = match.group(0)[9:-1]
        _apply(result, kind, event, per_stage)
        if kind in ("NodeStarted", "NodeStopped"):
            lifecycle = kind
    for kind in _LAST_ONLY:
        line = _last_line_of(text, kind)
        if line is None:
            continue
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if kind == "StepDone":
            result.tokens_per_second = float(event.get("tokens_per_second") or 0)
            _advance(result, event)
        elif kind == "PeerCountChanged":
            result.peers = int(event.get("peers") or 0)
        elif kind == "LeaderboardChanged":
            top = [str(entry[0]) for entry in event.get("top") or [] if entry]
            result.leaderboard_size = len(top)
            result.rank = top.index(result.peer_id) + 1 if result.peer_id in top else None
    last = text.rstrip("\n").rsplit("\n", 1)[-1]
    try:
        result.last_event_at = float(json.loads(last).get("at") or 0) or None
    except (ValueError, AttributeError):
        result.last_event_at = None
    result.stages = sorted(per_stage.values(), key=lambda s: (s.round, s.stage))
    result.total = round(sum(s.reward for s in result.stages), 6)
    result.running = lifecycle == "NodeStarted"
    return result


def _advance(result: Rewards, event: dict[str, Any]) -> None:
    r, s = event.get("round"), event.get("stage")
    if not (isinstance(r, int) and isinstance(s, int)):
        return
    if result.round is None or (r, s) >= (result.round, result.stage or 0):
        result.round, result.stage = r, s


def _active(result: Rewards, round_number: Any) -> None:
    if isinstance(round_number, int):
        result.last_active_round = max(result.last_active_round or round_number, round_number)


def _apply(
    result: Rewards, kind: str, event: dict[str, Any], per_stage: dict[tuple[int, int], StageReward]
) -> None:
    if kind == "NodeStarted":
        result.peer_id = str(event.get("peer_id") or "")
        result.animal_name = str(event.get("animal_name") or "")
        result.started_at = float(event.get("at") or 0) or None
    elif kind == "StageStarted":
        _advance(result, event)
    elif kind == "StageFinished":
        key = (int(event["round"]), int(event["stage"]))
        reward = float(event.get("reward") or 0)
        per_stage[key] = StageReward(key[0], key[1], reward, float(event.get("at") or 0))
        if reward > 0:
            _active(result, key[0])
        _advance(result, event)
    elif kind == "RewardsPublished":
        _active(result, event.get("round"))
    elif kind == "RoundFinished":
        if result.peer_id and result.peer_id in (event.get("winners") or []):
            result.wins += 1
        if event.get("vote"):
            result.votes += 1
    elif kind == "ChainSubmitted":
        status = str(event.get("status") or "")
        result.submissions[status] = result.submissions.get(status, 0) + 1
        reason = str(event.get("reason") or "")
        if status == "failed" and reason:
            result.failures[reason] = result.failures.get(reason, 0) + 1
        if status in ("sent", "already"):
            _active(result, event.get("round"))


def stale_warning(result: Rewards, stale_rounds: int) -> str | None:
    """A running node that has neither earned nor submitted anything in the last ``stale_rounds`` rounds."""
    if not result.running or result.round is None or stale_rounds <= 0:
        return None
    since = result.last_active_round
    idle = result.round - since if since is not None else result.round + 1
    if idle < stale_rounds:
        return None
    what = f"since round {since}" if since is not None else "since it started"
    return (
        f"{result.name} is running but has not earned or submitted {what} "
        f"({idle} round(s); now round {result.round})"
    )


def submission_warning(result: Rewards) -> str | None:
    """Rewards the chain refused because the node's account had already submitted for the stage."""
    shared = result.failures.get("account_already_submitted", 0)
    if not shared:
        return None
    return (
        f"{result.name}: {shared} reward submission(s) refused because its account already submitted for "
        "that stage through another node (a shared wallet earns once per stage); give each instance its "
        "own wallet"
    )


# ---- which nodes ----------------------------------------------------------------------------------------


def local_journals() -> dict[str, Path]:
    root = app_paths().instances
    if not root.is_dir():
        return {}
    return {p.parent.name: p for p in sorted(root.glob("*/events.jsonl"))}


def select(instance: str | None = None, peer: str | None = None) -> dict[str, Path]:
    journals = local_journals()
    if instance is not None:
        if instance not in journals:
            known = ", ".join(journals) or "none"
            raise RlswarmError(
                f"no journal for instance {instance!r} (instances with one: {known})",
                "start it with 'rlswarm instances start' or 'rlswarm join --instance NAME'",
            )
        return {instance: journals[instance]}
    return journals


def running_instances() -> set[str]:
    """Instances whose supervisor or node is alive now (by pid and process start time)."""
    from rlswarm_core.instances.state import liveness

    alive = set()
    for name in local_journals():
        try:
            if liveness(name).running:
                alive.add(name)
        except RlswarmError:
            continue
    return alive


def local_rewards(
    instance: str | None = None, peer: str | None = None, stale_rounds: int = DEFAULT_STALE_ROUNDS
) -> list[Rewards]:
    supervised = running_instances()
    results = []
    for name, path in select(instance).items():
        summary = read_summary(path, name)
        if peer is not None and summary.peer_id != peer:
            continue
        # a supervised node between restarts has no open NodeStarted, yet it is meant to be running
        summary.running = summary.running or name in supervised
        warnings = [w for w in (stale_warning(summary, stale_rounds), submission_warning(summary)) if w]
        summary.warning = "; ".join(warnings) or None
        results.append(summary)
    if peer is not None and not results:
        raise RlswarmError(f"no local instance has peer id {peer}", "use --source dht or --source chain")
    return results


def snapshot(results: list[Rewards]) -> dict[str, Any]:
    return {
        "at": time.time(),
        "nodes": [r.to_dict() for r in results],
        "total": round(sum(r.total for r in results), 6),
        "warnings": [r.warning for r in results if r.warning],
    }
