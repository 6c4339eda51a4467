"""Stage 1 rewards: the model reads up to five students' answers and names the best one.

The critic replies with ``<compare>``, ``<explain>`` and ``<identify>``; ``<identify>`` holds a student
label from the prompt (``Student #0``) or a phrase saying no one is correct.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from rlswarm_core.training.rewards.answer import correctness, score_answer
from rlswarm_core.training.rewards.text import (
    RewardBreakdown,
    as_text,
    completion_text,
    extract_tag,
    layout_pattern,
    matches_layout,
    says_none_correct,
    xml_count,
)
from rlswarm_core.training.rewards.weights import ANSWER_QUALITY, CritiqueWeights

CRITIQUE_TAGS = ("compare", "explain", "identify")
_STRICT = layout_pattern(CRITIQUE_TAGS, strict=True)
_SOFT = layout_pattern(CRITIQUE_TAGS, strict=False)


@dataclass(frozen=True)
class CritiqueContext:
    """What a critic was shown: the question, its reference answer, and the students' replies by label."""

    question: str
    answer: str
    students: Mapping[str, str] = field(default_factory=dict)


def pick_quality(choice: str | None, students: Mapping[str, str], answer: object, none_bonus: float) -> float:
    """How good a pick is: the chosen student's own answer rewards (correctness counted once), or
    ``none_bonus`` when the pick says no one is correct and indeed no student is."""
    if choice is None:
        return 0.0
    if choice in students:
        return score_answer(students[choice], answer, ANSWER_QUALITY).total
    nobody_right = not any(correctness(reply, answer) for reply in students.values())
    if says_none_correct(choice) and students and as_text(answer) and nobody_right:
        return none_bonus
    return 0.0


def identified(completion: object) -> str | None:
    return extract_tag(completion_text(completion), "identify")


def score_critique(
    completion: object, context: CritiqueContext, weights: CritiqueWeights | None = None
) -> RewardBreakdown:
    w = weights or CritiqueWeights()
    text = completion_text(completion)
    choice = identified(text)
    return RewardBreakdown(
        {
            "proper_id": w.proper_id * (1.0 if choice is not None and choice in context.students else 0.0),
            "chosen_correctness": w.chosen_correctness
            * pick_quality(choice, context.students, context.answer, w.none_bonus),
            "strict_format": w.strict_format
            * (1.0 if matches_layout(text, _STRICT, strict=True, tags=CRITIQUE_TAGS) else 0.0),
            "soft_format": w.soft_format * (1.0 if matches_layout(text, _SOFT, strict=False) else 0.0),
            "xml_count": w.xml_count * xml_count(text, CRITIQUE_TAGS),
        }
    )
