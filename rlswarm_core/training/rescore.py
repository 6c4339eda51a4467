"""Peers' rewards recomputed from what they published, with the reward functions the trainer uses.

A peer publishes, per question, its best completion and the reward it claims for it. Every reward here
is a pure function of published data (the question, the swarm's consensus answer, the completion and,
for the critique and decide stages, the prompt the peer was shown, which it publishes with its
output), so any node can recompute it and need not trust the claim. The result maps
``peer -> question md5 -> reward``; records that cannot be scored are left out.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Mapping
from typing import Any

from rlswarm_core.training import merging
from rlswarm_core.training.prompts import parse_critiques, parse_students
from rlswarm_core.training.rewards.answer import score_answer
from rlswarm_core.training.rewards.critique import CritiqueContext, score_critique
from rlswarm_core.training.rewards.decide import DecideContext, score_decision
from rlswarm_core.training.rewards.weights import RewardWeights
from rlswarm_core.training.tasks.base import TaskItem

# the extra fields a published output carries (see rlswarm_core.training.stages.StagePlan.publishable)
PROMPT_EXTRA = "prompt"
ENTRY_EXTRA = "entry"

Rescored = dict[str, dict[str, float]]
# peer -> question md5 -> record with .question .answer .completion .reward .extra
PeerOutputs = Mapping[str, Mapping[str, Any]]


def _by_question(outputs: PeerOutputs) -> dict[str, dict[str, Any]]:
    groups: dict[str, dict[str, Any]] = defaultdict(dict)
    for peer, records in outputs.items():
        for qhash, record in records.items():
            groups[qhash][peer] = record
    return groups


def _consensus(records: Mapping[str, Any], own_peer: str | None) -> tuple[str, str] | None:
    shaped = {p: {"question": r.question, "answer": r.answer or ""} for p, r in records.items()}
    return merging._consensus(shaped, own_peer)


def rescore_three_stages(
    stage: int,
    outputs: PeerOutputs,
    weights: RewardWeights | None = None,
    own_peer: str | None = None,
    score_answer_fn: Callable[[str, str], float] | None = None,
) -> Rescored:
    """The answer, critique and decide stages (GSM8K family). A record published without a prompt is
    an answer (a stage that had nothing from the swarm trains on answers) and is scored as one.

    The reference answer is the swarm's consensus for the question (this node's own when it has one),
    never the answer the scored record carries, so a peer cannot raise its score by changing it.
    """
    weights = weights or RewardWeights()
    answer_score = score_answer_fn or (lambda text, answer: score_answer(text, answer, weights.answer).total)
    result: Rescored = defaultdict(dict)
    for qhash, records in _by_question(outputs).items():
        consensus = _consensus(records, own_peer)
        if consensus is None:
            continue
        question, answer = consensus
        for peer, record in records.items():
            prompt = record.extra.get(PROMPT_EXTRA) if isinstance(record.extra, Mapping) else None
            if stage == 0 or not prompt:
                score = answer_score(record.completion, answer)
            elif stage == 1:
                context = CritiqueContext(question, answer, parse_students(prompt))
                score = score_critique(record.completion, context, weights.critique).total
            else:
                context2 = DecideContext(
                    question, answer, parse_students(prompt), tuple(parse_critiques(prompt).values())
                )
                score = score_decision(record.completion, context2, weights.decide).total
            result[peer][qhash] = float(score)
    return dict(result)


def rescore_items(outputs: PeerOutputs, score: Callable[[str, TaskItem], float]) -> Rescored:
    """One answer stage over generated tasks (reasoning-gym): each record is scored against the task
    entry it publishes, with the task family's own scorer."""
    result: Rescored = defaultdict(dict)
    for peer, records in outputs.items():
        for qhash, record in records.items():
            raw = record.extra.get(ENTRY_EXTRA) if isinstance(record.extra, Mapping) else None
            try:
                entry = json.loads(raw) if raw else None
            except ValueError:
                entry = None
            item = TaskItem(
                question=record.question,
                answer=record.answer or "",
                entry=entry if isinstance(entry, dict) else None,
            )
            result[peer][qhash] = float(score(record.completion, item))
    return dict(result)
