"""My rewards, read from the nodes' event journals (the default), the DHT or the chain.

Reading must stay fast with long journals: only the few event kinds that matter are decoded, and the
many per-step events are skipped by a substring test before any JSON parsing.

A decoded line that is not a whole event (torn by a crash, or valid JSON missing a field its kind
requires) is skipped and counted in ``skipped_lines``, and ``rewards`` says so.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rlswarm_core.errors import RlswarmError
from rlswarm_core.node.journal import JOURNAL_NAME, parse_line
from rlswarm_core.rewards.sparkline import sparkline
from rlswarm_core.system.paths import app_paths

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


@dataclass
class StageReward:
    round: int
    stage: int
    reward: float
    at: float
    pass_at_1: float | None = None  # families that run tests (code)


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
    # the last finished round's share of replies passing every test (code family)
    pass_at_1: float | None = None
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
    skipped_lines: int = 0

    @property
    def history(self) -> list[float]:
        return [s.reward for s in self.stages[-HISTORY:]]

    def to_dict(self) -> dict[str, Any]:
        # field by field: dataclasses.asdict deep-copies, which dominates with long histories
        data = {f: getattr(self, f) for f in self.__dataclass_fields__ if f != "stages"}
        data["submissions"] = dict(self.submissions)
        data["failures"] = dict(self.failures)
        data["stages"] = [
            {"round": s.round, "stage": s.stage, "reward": s.reward, "at": s.at, "pass_at_1": s.pass_at_1}
            for s in self.stages
        ]
        data["history"] = self.history
        data["sparkline"] = sparkline(self.history)
        return data


_DECODED_RE = re.compile(r'"kind": "(?:' + "|".join(sorted(_DECODED)) + r')"')


def _line_at(text: str, pos: int) -> str:
    return text[text.rfind("\n", 0, pos) + 1 : (text.find("\n", pos) + 1 or len(text) + 1) - 1]


def _last_event_of(text: str, kind: str, result: Rewards) -> dict[str, Any] | None:
    """The last whole event of ``kind``; incomplete ones after it are skipped and counted."""
    end = len(text)
    while (pos := text.rfind(f'"kind": "{kind}"', 0, end)) >= 0:
        event = parse_line(_line_at(text, pos))
        if event is not None:
            return event
        result.skipped_lines += 1
        end = pos
    return None


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
        event = parse_line(_line_at(text, match.start()))
        kind = match.group(0)[9:-1]
        if event is None or event["kind"] != kind:
            result.skipped_lines += 1
            continue
        try:
            _apply(result, kind, event, per_stage)
        except (TypeError, ValueError):  # a field of the wrong type: as good as missing
            result.skipped_lines += 1
            continue
        if kind in ("NodeStarted", "NodeStopped"):
            lifecycle = kind
    for kind in _LAST_ONLY:
        event = _last_event_of(text, kind, result)
        if event is None:
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
    tail = parse_line(last) if last.strip() else None
    if tail is None and last.strip() and not any(f'"kind": "{k}"' in last for k in _DECODED | _LAST_ONLY):
        result.skipped_lines += 1  # a torn last line of a kind the loops above do not read
    result.last_event_at = (float(tail["at"]) or None) if tail is not None else None
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
        rate = event.get("pass_at_1")
        per_stage[key] = StageReward(
            key[0], key[1], reward, float(event.get("at") or 0), float(rate) if rate is not None else None
        )
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
        if event.get("pass_at_1") is not None:
            result.pass_at_1 = float(event["pass_at_1"])
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
    return {p.parent.name: p for p in sorted(root.glob(f"*/{JOURNAL_NAME}"))}


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
        "warnings": [r.warning for r in results if r.warning]
        + [
            f"{r.name}: skipped {r.skipped_lines} incomplete line(s) of its event journal "
            "(torn by a crash or a full disk)"
            for r in results
            if r.skipped_lines
        ],
    }
