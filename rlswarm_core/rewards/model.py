"""One node's rewards as ``rewards``, ``instances list`` and the dashboard show them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import msgspec

from rlswarm_core.rewards.sparkline import sparkline

HISTORY = 24


class StageReward(msgspec.Struct):
    """One stage's reward; a msgspec struct, so months of them load from a summary and turn into
    ``--json`` output at C speed."""

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
        data["stages"] = msgspec.to_builtins(self.stages)
        data["history"] = self.history
        data["sparkline"] = sparkline(self.history)
        return data
