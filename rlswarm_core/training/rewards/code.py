"""Rewards for the code family: the fraction of the problem's tests the reply's code passes, run in the
sandbox, plus a format reward for one fenced Python block and a penalty for overlong replies.

The text helpers are pure; :func:`score_code` is the one function that runs code, and only through the
sandbox it is given.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import TYPE_CHECKING, Any

from rlswarm_core.errors import ConfigError
from rlswarm_core.training.rewards.text import RewardBreakdown, completion_text

if TYPE_CHECKING:
    from rlswarm_core.sandbox import Sandbox, TestJob, TestReport

PYTHON_LANGUAGES = frozenset({"python", "py", "python3"})
_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[^\n]*\n(.*?)(?:```|\Z)", re.DOTALL)


@dataclass(frozen=True)
class CodeWeights:
    """``tests`` weighs the fraction of tests passed (0..1); ``format`` one fenced Python block and
    nothing after it; ``length`` the penalty, which grows from 0 at ``free_chars`` characters to the
    full weight at twice that."""

    tests: float = 1.0
    format: float = 0.2
    length: float = 0.2
    free_chars: float = 2000.0

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any] | None) -> CodeWeights:
        if not data:
            return cls()
        known = {f.name for f in fields(cls)}
        updates: dict[str, float] = {}
        for name, value in data.items():
            if name not in known:
                raise ConfigError(
                    f"unknown code reward weight {name!r}", f"use one of: {', '.join(sorted(known))}"
                )
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ConfigError(f"code reward weight {name} must be a number of 0 or more, got {value!r}")
            updates[name] = float(value)
        if updates.get("free_chars", 1.0) <= 0:
            raise ConfigError("code reward weight free_chars must be above 0")
        return replace(cls(), **updates)


@dataclass(frozen=True)
class ExtractedCode:
    code: str
    fenced: bool  # the code came from a fenced block (else it is the whole reply)
    blocks: int  # fenced blocks in the reply
    closed: bool  # the (first) block has its closing fence
    language: str
    trailing: str  # text after the first block's closing fence


def extract_code(text: str | None) -> ExtractedCode:
    """The first fenced block's code, or the whole reply when it has no fence (a reply cut off by the
    length limit keeps its unclosed block)."""
    value = text or ""
    blocks = list(_FENCE.finditer(value))
    if not blocks:
        return ExtractedCode(value, False, 0, False, "", "")
    first = blocks[0]
    closed = first.group(0).endswith("```")
    return ExtractedCode(
        code=first.group(2),
        fenced=True,
        blocks=len(blocks),
        closed=closed,
        language=first.group(1).lower(),
        trailing=value[first.end() :] if closed else "",
    )


def format_score(text: str | None) -> float:
    """1.0 for exactly one closed ```python block with nothing but whitespace after it."""
    found = extract_code(text)
    ok = (
        found.fenced
        and found.closed
        and found.blocks == 1
        and found.language in PYTHON_LANGUAGES
        and not found.trailing.strip()
        and bool(found.code.strip())
    )
    return 1.0 if ok else 0.0


def length_penalty(text: str | None, free_chars: float) -> float:
    """0 up to ``free_chars`` characters, rising linearly to 1 at twice that."""
    extra = len(text or "") - free_chars
    return min(1.0, max(0.0, extra / free_chars))


@dataclass(frozen=True)
class CodeScore:
    breakdown: RewardBreakdown
    report: TestReport | None  # None when no code ran (an empty reply)

    @property
    def total(self) -> float:
        return self.breakdown.total

    @property
    def passed(self) -> bool:
        """Every test passed: what pass@1 counts."""
        return self.report is not None and self.report.all_passed


def score_code(
    completion: object,
    make_job: Any,
    sandbox: Sandbox,
    weights: CodeWeights | None = None,
) -> CodeScore:
    """Reward of one reply; ``make_job(code) -> TestJob`` puts the code together with the tests."""
    w = weights or CodeWeights()
    text = completion_text(completion) or ""
    code = extract_code(text).code
    report = None
    fraction = 0.0
    if code.strip():
        job: TestJob = make_job(code)
        report = sandbox.run(job)
        fraction = report.fraction
    breakdown = RewardBreakdown(
        {
            "tests": w.tests * fraction,
            "format": w.format * format_score(text),
            "length": -w.length * length_penalty(text, w.free_chars),
        }
    )
    return CodeScore(breakdown, report)
