"""Reading the harness's line protocol back into a :class:`TestReport`."""

from __future__ import annotations

import json
from typing import cast

from rlswarm_core.sandbox.limits import Outcome, TestReport

_OUTCOMES = {"ok", "fail", "timeout", "output", "skip"}


def parse_report(
    stdout: bytes, tests: int, seconds: float, killed: bool, backend: str, error: str = ""
) -> TestReport:
    outcomes: list[Outcome] = ["lost"] * tests
    passed = [False] * tests
    unapplied: tuple[str, ...] = ()
    for raw in stdout.decode("utf-8", "replace").splitlines():
        parts = raw.split()
        if not parts:
            continue
        if parts[0] == "L":
            try:
                unapplied = tuple(str(x) for x in json.loads(raw[2:]))
            except ValueError:
                continue
        elif parts[0] == "T" and len(parts) == 4 and parts[2] in _OUTCOMES:
            try:
                index, ok = int(parts[1]), parts[3] == "1"
            except ValueError:
                continue
            if 0 <= index < tests:
                outcomes[index] = cast(Outcome, parts[2])
                passed[index] = ok and parts[2] == "ok"
    return TestReport(
        outcomes=tuple(outcomes),
        passed=tuple(passed),
        seconds=seconds,
        killed=killed,
        unapplied_limits=unapplied,
        error=error,
        backend=backend,
    )
