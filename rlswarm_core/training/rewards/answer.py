"""Stage 0 rewards: the model answers the question with ``<think>`` and ``<answer>``."""

from __future__ import annotations

from rlswarm_core.training.rewards.text import (
    RewardBreakdown,
    as_text,
    completion_text,
    extract_tag,
    is_integer_text,
    layout_pattern,
    matches_layout,
    xml_count,
)
from rlswarm_core.training.rewards.weights import AnswerWeights

ANSWER_TAGS = ("think", "answer")
_STRICT = layout_pattern(ANSWER_TAGS, strict=True)
_SOFT = layout_pattern(ANSWER_TAGS, strict=False)


def correctness(completion: object, reference_answer: object) -> float:
    """1.0 when the ``<answer>`` value equals the reference answer exactly (after stripping)."""
    expected = as_text(reference_answer)
    got = extract_tag(completion_text(completion), "answer")
    return 1.0 if expected and got == expected else 0.0


def integer_answer(completion: object) -> float:
    return 1.0 if is_integer_text(extract_tag(completion_text(completion), "answer")) else 0.0


def strict_format(completion: object) -> float:
    return 1.0 if matches_layout(completion_text(completion), _STRICT, strict=True, tags=ANSWER_TAGS) else 0.0


def soft_format(completion: object) -> float:
    return 1.0 if matches_layout(completion_text(completion), _SOFT, strict=False) else 0.0


def xml_tags(completion: object) -> float:
    return xml_count(completion_text(completion), ANSWER_TAGS)


def score_answer(
    completion: object, reference_answer: object, weights: AnswerWeights | None = None
) -> RewardBreakdown:
    w = weights or AnswerWeights()
    return RewardBreakdown(
        {
            "correctness": w.correctness * correctness(completion, reference_answer),
            "integer": w.integer * integer_answer(completion),
            "strict_format": w.strict_format * strict_format(completion),
            "soft_format": w.soft_format * soft_format(completion),
            "xml_count": w.xml_count * xml_tags(completion),
        }
    )
