"""Reward weights per stage, with the reference values as defaults."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

from rlswarm_core.errors import ConfigError


@dataclass(frozen=True)
class AnswerWeights:
    """Stage 0 (answer). The defaults add up to the reference maximum of 4.0 per completion."""

    correctness: float = 2.0
    integer: float = 0.5
    strict_format: float = 0.5
    soft_format: float = 0.5
    xml_count: float = 1.0


# How a peer's stage-0 answer is valued when a critic picks it: the reference counts correctness once.
ANSWER_QUALITY = AnswerWeights(correctness=1.0)


@dataclass(frozen=True)
class CritiqueWeights:
    """Stage 1 (critique). ``none_bonus`` is added before weighting when the critic rightly says no one
    is correct, so it outweighs picking any single answer."""

    proper_id: float = 2.0
    chosen_correctness: float = 2.0
    strict_format: float = 0.5
    soft_format: float = 0.5
    xml_count: float = 1.0
    none_bonus: float = 10.0


@dataclass(frozen=True)
class DecideWeights:
    """Stage 2 (decide)."""

    consensus: float = 2.0
    consensus_correctness: float = 2.0
    question_recreation: float = 1.0
    final_correctness: float = 2.0
    strict_format: float = 0.5
    soft_format: float = 0.5
    xml_count: float = 1.0
    none_bonus: float = 10.0


@dataclass(frozen=True)
class RewardWeights:
    answer: AnswerWeights = field(default_factory=AnswerWeights)
    critique: CritiqueWeights = field(default_factory=CritiqueWeights)
    decide: DecideWeights = field(default_factory=DecideWeights)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any] | None) -> RewardWeights:
        """Build from ``{"answer": {"correctness": 1.5}, ...}``; unknown names or non-numbers are a
        ConfigError naming the offending key."""
        if not data:
            return cls()
        if not isinstance(data, Mapping):
            raise ConfigError("reward weights must be a mapping of stage: {name: number}")
        result = cls()
        for stage, values in data.items():
            current = getattr(result, str(stage), None) if stage in _STAGES else None
            if current is None:
                raise ConfigError(
                    f"unknown reward stage {stage!r}", f"use one of: {', '.join(sorted(_STAGES))}"
                )
            if not isinstance(values, Mapping):
                raise ConfigError(f"reward weights for {stage!r} must be a mapping of name: number")
            known = {f.name for f in fields(current)}
            updates: dict[str, float] = {}
            for name, value in values.items():
                if name not in known:
                    raise ConfigError(
                        f"unknown reward weight {stage}.{name}", f"use one of: {', '.join(sorted(known))}"
                    )
                if isinstance(value, bool) or not isinstance(value, (int, float)):
                    raise ConfigError(f"reward weight {stage}.{name} must be a number, got {value!r}")
                updates[name] = float(value)
            result = replace(result, **{stage: replace(current, **updates)})
        return result


_STAGES = ("answer", "critique", "decide")
