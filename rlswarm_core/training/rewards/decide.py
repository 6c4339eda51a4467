"""Stage 2 rewards: the model reads the critiques, reports the swarm's majority pick, restates the
question and gives its own final answer."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from difflib import SequenceMatcher

from rlswarm_core.training.rewards.answer import correctness
from rlswarm_core.training.rewards.critique import pick_quality
from rlswarm_core.training.rewards.text import (
    RewardBreakdown,
    completion_text,
    extract_tag,
    layout_pattern,
    matches_layout,
    xml_count,
)
from rlswarm_core.training.rewards.weights import DecideWeights

DECIDE_TAGS = ("summarize_feedback", "majority", "question", "think", "answer")
_STRICT = layout_pattern(DECIDE_TAGS, strict=True)
_SOFT = layout_pattern(DECIDE_TAGS, strict=False)
# SequenceMatcher is quadratic; a "recreation" far longer than the question is not one, so it scores 0
# instead of costing seconds per completion.
_RECREATION_SLACK = 4


@dataclass(frozen=True)
class DecideContext:
    """What a decider was shown: the question, the students' replies by label, and the critiques."""

    question: str
    answer: str
    students: Mapping[str, str] = field(default_factory=dict)
    critiques: Sequence[str] = field(default_factory=tuple)


def majority_vote(choices: Iterable[object]) -> list[str]:
    """Every value with the most votes (all of them on a tie), in first-seen order; non-text is ignored."""
    counts = Counter(c.strip() for c in choices if isinstance(c, str) and c.strip())
    if not counts:
        return []
    top = max(counts.values())
    return [choice for choice, n in counts.items() if n == top]


def critic_choices(critiques: Iterable[object]) -> list[str]:
    """The ``<identify>`` value of every critique that has one (placeholders and garbage have none)."""
    found = (extract_tag(completion_text(c), "identify") for c in critiques)
    return [c for c in found if c]


def question_similarity(recreated: str | None, question: str) -> float:
    if not recreated or not question:
        return 0.0
    if len(recreated) > _RECREATION_SLACK * len(question) + 64:
        return 0.0
    return SequenceMatcher(None, recreated, question.strip()).ratio()


def score_decision(
    completion: object, context: DecideContext, weights: DecideWeights | None = None
) -> RewardBreakdown:
    w = weights or DecideWeights()
    text = completion_text(completion)
    pick = extract_tag(text, "majority")
    swarm_pick = majority_vote(critic_choices(context.critiques))
    return RewardBreakdown(
        {
            "consensus": w.consensus * (1.0 if pick is not None and pick in swarm_pick else 0.0),
            "consensus_correctness": w.consensus_correctness
            * pick_quality(pick, context.students, context.answer, w.none_bonus),
            "question_recreation": w.question_recreation
            * question_similarity(extract_tag(text, "question"), context.question),
            "final_correctness": w.final_correctness * correctness(text, context.answer),
            "strict_format": w.strict_format
            * (1.0 if matches_layout(text, _STRICT, strict=True, tags=DECIDE_TAGS) else 0.0),
            "soft_format": w.soft_format * (1.0 if matches_layout(text, _SOFT, strict=False) else 0.0),
            "xml_count": w.xml_count * xml_count(text, DECIDE_TAGS),
        }
    )
