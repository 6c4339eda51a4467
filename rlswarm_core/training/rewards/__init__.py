"""Reward functions for every stage: pure functions of a reply and what the model was shown.

No torch here; the trainer wraps these for trl with :mod:`rlswarm_core.training.rewards.trl_funcs`.
"""

from rlswarm_core.training.rewards.answer import ANSWER_TAGS, score_answer
from rlswarm_core.training.rewards.critique import CRITIQUE_TAGS, CritiqueContext, score_critique
from rlswarm_core.training.rewards.decide import (
    DECIDE_TAGS,
    DecideContext,
    critic_choices,
    majority_vote,
    score_decision,
)
from rlswarm_core.training.rewards.text import RewardBreakdown, completion_text, extract_tag
from rlswarm_core.training.rewards.weights import (
    AnswerWeights,
    CritiqueWeights,
    DecideWeights,
    RewardWeights,
)

__all__ = [
    "ANSWER_TAGS",
    "CRITIQUE_TAGS",
    "DECIDE_TAGS",
    "AnswerWeights",
    "CritiqueContext",
    "CritiqueWeights",
    "DecideContext",
    "DecideWeights",
    "RewardBreakdown",
    "RewardWeights",
    "completion_text",
    "critic_choices",
    "extract_tag",
    "majority_vote",
    "score_answer",
    "score_critique",
    "score_decision",
]
