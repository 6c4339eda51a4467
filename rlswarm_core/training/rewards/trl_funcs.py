"""The stage rewards in the calling convention of trl's ``GRPOTrainer`` reward functions.

trl calls ``f(prompts=[...], completions=[...], **columns)`` with one list entry per completion and
every extra dataset column as a keyword list. The answer stage needs an ``answer`` column; the critique
and decide stages read what the model was shown back from the prompt text itself (as the reference
does), so their datasets need only ``prompt`` and ``answer``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from rlswarm_core.training.prompts import parse_critiques, parse_question, parse_students
from rlswarm_core.training.rewards.answer import score_answer
from rlswarm_core.training.rewards.critique import CritiqueContext, score_critique
from rlswarm_core.training.rewards.decide import DecideContext, score_decision
from rlswarm_core.training.rewards.text import RewardBreakdown, as_text
from rlswarm_core.training.rewards.weights import RewardWeights

RewardFunc = Callable[..., list[float]]
STAGES = ("answer", "critique", "decide")


def prompt_text(prompt: object) -> str:
    """The last user message of a chat prompt, or the prompt itself when it is plain text."""
    if isinstance(prompt, str):
        return prompt
    if isinstance(prompt, Sequence):
        for message in reversed(prompt):
            if (
                isinstance(message, dict)
                and message.get("role") == "user"
                and isinstance(message.get("content"), str)
            ):
                return message["content"]
    return ""


def _column(kwargs: dict[str, Any], name: str, size: int) -> list[Any]:
    values = kwargs.get(name)
    if not isinstance(values, Sequence) or isinstance(values, str) or len(values) != size:
        return [None] * size
    return list(values)


def _score(
    stage: str, prompt: object, completion: object, answer: object, weights: RewardWeights
) -> RewardBreakdown:
    if stage == "answer":
        return score_answer(completion, answer, weights.answer)
    text = prompt_text(prompt)
    question, students = parse_question(text), parse_students(text)
    if stage == "critique":
        return score_critique(
            completion, CritiqueContext(question, as_text(answer), students), weights.critique
        )
    critiques = tuple(parse_critiques(text).values())
    return score_decision(
        completion, DecideContext(question, as_text(answer), students, critiques), weights.decide
    )


def reward_func(stage: str, weights: RewardWeights | None = None) -> RewardFunc:
    """One trl reward function returning each completion's total reward for ``stage``."""
    if stage not in STAGES:
        raise ValueError(f"unknown stage {stage!r}; expected one of {STAGES}")
    chosen = weights or RewardWeights()

    def reward(prompts: Sequence[object], completions: Sequence[object], **kwargs: Any) -> list[float]:
        answers = _column(kwargs, "answer", len(completions))
        prompt_list = list(prompts) if len(prompts) == len(completions) else [None] * len(completions)
        return [
            _score(stage, p, c, a, chosen).total
            for p, c, a in zip(prompt_list, completions, answers, strict=True)
        ]

    reward.__name__ = f"{stage}_reward"
    return reward
