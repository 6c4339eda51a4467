"""The limits one sandboxed run works under, and what a run reports back."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Outcome = Literal["ok", "fail", "timeout", "output", "skip", "lost"]


@dataclass(frozen=True)
class SandboxLimits:
    """Per-run limits. ``test_timeout_s`` bounds each test, ``wall_s`` the whole run (start-up included);
    ``processes`` counts every process of the run, the harness and its test children included."""

    test_timeout_s: float = 2.0
    wall_s: float = 20.0
    memory_mb: int = 512
    processes: int = 32
    output_bytes: int = 1 << 20
    file_bytes: int = 4 << 20
    tmp_mb: int = 32
    open_files: int = 64

    def for_harness(self) -> dict[str, Any]:
        return {
            "test_timeout_s": self.test_timeout_s,
            "memory_bytes": self.memory_mb << 20,
            "processes": self.processes,
            "output_bytes": self.output_bytes,
            "file_bytes": self.file_bytes,
            "open_files": self.open_files,
        }


@dataclass(frozen=True)
class TestJob:
    """Code and the tests it must pass.

    ``kind="assert"``: each test is Python run after ``preamble``, ``solution`` and ``setup`` (``pre``
    then ``code``); it passes when it runs to the end. ``kind="stdio"``: the solution is run once per
    test with ``input`` on standard input and passes when its output matches ``output`` (whitespace-
    insensitive).
    """

    __test__ = False  # not a pytest test class, whatever its name

    solution: str
    tests: tuple[dict[str, str], ...]
    kind: Literal["assert", "stdio"] = "assert"
    preamble: str = ""
    setup: str = ""

    def payload(self, limits: SandboxLimits) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "solution": self.solution,
            "preamble": self.preamble,
            "setup": self.setup,
            "tests": [dict(t) for t in self.tests],
            "limits": limits.for_harness(),
        }


@dataclass(frozen=True)
class TestReport:
    """What a sandboxed run of a :class:`TestJob` found; tests it never reported count as ``lost``."""

    __test__ = False

    outcomes: tuple[Outcome, ...]
    passed: tuple[bool, ...]
    seconds: float
    killed: bool = False  # the run hit its wall-clock limit and was killed
    unapplied_limits: tuple[str, ...] = ()
    error: str = ""  # why the run produced nothing (the sandbox itself failed)
    backend: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return len(self.outcomes)

    @property
    def passed_count(self) -> int:
        return sum(self.passed)

    @property
    def fraction(self) -> float:
        return self.passed_count / self.total if self.total else 0.0

    @property
    def all_passed(self) -> bool:
        return self.total > 0 and all(self.passed)
