"""The shape of one doctor finding, and the order findings are shown in."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Status = Literal["error", "warning", "ok"]

ERROR: Status = "error"
WARNING: Status = "warning"
OK: Status = "ok"

_RANK = {ERROR: 0, WARNING: 1, OK: 2}


@dataclass(frozen=True)
class CheckResult:
    """What one check found: ``summary`` says what is true now, ``fix`` what to do about it."""

    name: str
    status: Status
    summary: str
    fix: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.status not in _RANK:
            raise ValueError(f"unknown check status {self.status!r}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def rank(results: list[CheckResult]) -> list[CheckResult]:
    """Errors first, then warnings, then passes; the check order is kept within each group."""
    return sorted(results, key=lambda r: _RANK[r.status])


def worst(statuses: list[Status]) -> Status:
    return min(statuses, key=lambda s: _RANK[s], default=OK)
