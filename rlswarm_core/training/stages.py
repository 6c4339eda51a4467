"""What a node trains on in each stage, and what it publishes: the bridge between a task family, the
swarm's gathered outputs and the GRPO stage runner.

A pipeline turns (round, stage, peers' outputs of the previous stage) into a :class:`StagePlan`: rows
for the trainer (each with chat ``prompt`` messages and a ``question_id``), a scorer for completions,
and the conversion of the stage's best completions into records to publish. Everything here is pure
Python over the swarm's typed records; nothing imports torch.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from rlswarm_core.training import merging
from rlswarm_core.training.prompts import chat, critique_messages, decide_messages
from rlswarm_core.training.rewards.critique import score_critique
from rlswarm_core.training.rewards.decide import score_decision
from rlswarm_core.training.rewards.weights import RewardWeights
from rlswarm_core.training.tasks.base import TaskFamily, TaskItem

# the largest prompt a record may carry for peers to re-score against (the DHT record's field limit)
MAX_SHARED_PROMPT_CHARS = 16_000
PROMPT_EXTRA = "prompt"
ENTRY_EXTRA = "entry"

# peer -> question md5 -> record with .question .answer .completion .reward .extra
PeerOutputs = Mapping[str, Mapping[str, Any]]
ScoreFn = Callable[[Sequence[Mapping[str, Any]], Sequence[str]], list[float]]


@dataclass(frozen=True)
class Publishable:
    question: str
    completion: str
    reward: float
    answer: str | None
    extra: dict[str, str] = field(default_factory=dict)


@dataclass
class StagePlan:
    stage: int
    rows: list[dict[str, Any]]
    score: ScoreFn
    # rows whose question came from peers' rollouts (rollout sharing)
    swarm_questions: int = 0

    def publishable(self, best: Mapping[str, tuple[str, float]]) -> list[Publishable]:
        """The node's best completion per question, shaped for the swarm."""
        out = []
        for row in self.rows:
            found = best.get(row["question_id"])
            if found is None:
                continue
            completion, reward = found
            extra = {}
            shared = row.get("shared_prompt")
            if shared and len(shared) <= MAX_SHARED_PROMPT_CHARS:
                extra[PROMPT_EXTRA] = shared
            entry = getattr(row.get("item"), "entry", None)
            if entry is not None:
                # peers need the generator's record to score this question with its own scorer
                encoded = json.dumps(entry, default=str, sort_keys=True)
                if len(encoded) <= MAX_SHARED_PROMPT_CHARS:
                    extra[ENTRY_EXTRA] = encoded
            out.append(Publishable(row["question"], completion, reward, row.get("answer"), extra))
        return out


class StagePipeline(ABC):
    stage_count: int

    @abstractmethod
    def plan(self, round_: int, stage: int, previous: PeerOutputs | None) -> StagePlan:
        """Rows and scorer for ``stage``; ``previous`` holds every peer's outputs of the stage before."""

    def winners(self, final_stage: PeerOutputs) -> list[str]:
        """The round's winners, best first, from every peer's outputs of the last stage."""
        return []

    def rescore(self, stage: int, outputs: PeerOutputs) -> dict[str, dict[str, float]]:
        """Every peer's reward per question for ``stage``, recomputed from its published outputs with
        the functions this pipeline trains with (``peer -> question md5 -> reward``)."""
        return {}


def _items_rows(task: TaskFamily, items: Sequence[TaskItem]) -> list[dict[str, Any]]:
    return [
        {
            "prompt": task.messages(item),
            "question_id": merging.question_hash(item.question),
            "question": item.question,
            "answer": item.answer,
            "item": item,
        }
        for item in items
    ]


def _score_items(task: TaskFamily) -> ScoreFn:
    return lambda rows, texts: [task.score(t, r["item"]).total for r, t in zip(rows, texts, strict=True)]


def _reference_records(
    previous: PeerOutputs, reply_field: str, prompt_field: str | None = None
) -> dict[str, dict[str, Any]]:
    """Peers' typed records in the reference's DHT shape, which the merging code reads:
    ``{question, answer, [prompt_field], reply_field: {peer: completion}}``."""

    def shape(peer: str, r: Any) -> dict[str, Any]:
        record: dict[str, Any] = {
            "question": r.question,
            "answer": r.answer or "",
            reply_field: {peer: r.completion},
        }
        if prompt_field is not None:
            record[prompt_field] = r.extra.get(PROMPT_EXTRA, "")
        return record

    return {peer: {q: shape(peer, r) for q, r in outs.items()} for peer, outs in previous.items()}


def _answer_records(previous: PeerOutputs) -> dict[str, dict[str, Any]]:
    return _reference_records(previous, merging.ANSWERS_FIELD)


def _opinion_records(previous: PeerOutputs) -> dict[str, dict[str, Any]]:
    return _reference_records(previous, merging.OPINIONS_FIELD, merging.CRITIQUE_PROMPT_FIELD)


def _decision_records(previous: PeerOutputs) -> dict[str, dict[str, Any]]:
    return _reference_records(previous, merging.DECISIONS_FIELD, merging.DECIDE_PROMPT_FIELD)


class Gsm8kPipeline(StagePipeline):
    """Answer, critique, decide (design notes §1): every node answers the same questions each round,
    critiques the swarm's top answers, then decides from the swarm's critiques."""

    stage_count = 3

    def __init__(
        self,
        task: TaskFamily,
        own_peer: str,
        questions_per_round: int,
        weights: RewardWeights | None = None,
        top_k: int = merging.DEFAULT_TOP_K,
    ) -> None:
        self.task = task
        self.own_peer = own_peer
        self.questions = questions_per_round
        self.weights = weights or RewardWeights()
        self.top_k = top_k

    def _stage0(self, round_: int) -> StagePlan:
        # Every node draws the same questions for a round, so answers can be merged by question.
        items = self.task.load_items(self.questions, seed=round_)
        return StagePlan(0, _items_rows(self.task, items), _score_items(self.task))

    def plan(self, round_: int, stage: int, previous: PeerOutputs | None) -> StagePlan:
        if stage == 0 or not previous:
            if stage != 0:
                # Nothing from the swarm (a lone node, or everyone else silent): fall back to the own
                # answers' questions so the stage still trains on something meaningful.
                return self._stage0(round_)
            return self._stage0(round_)
        if stage == 1:
            groups = merging.group_by_question(_answer_records(previous))
            rows = []
            for qid, records in sorted(groups.items()):
                merged = merging.merge_answers(records, previous.keys(), self.own_peer)
                if merged is None:
                    continue
                item = merging.critique_item(merged, self.top_k, self.weights.answer)
                rows.append(
                    {
                        "prompt": critique_messages(item.question, item.students),
                        "question_id": qid,
                        "question": item.question,
                        "answer": item.answer,
                        "context": item.critique_context,
                        "shared_prompt": item.prompt,
                    }
                )
            weights = self.weights.critique
            score: ScoreFn = lambda rows_, texts: [  # noqa: E731
                score_critique(t, r["context"], weights).total for r, t in zip(rows_, texts, strict=True)
            ]
            return StagePlan(1, rows or self._stage0(round_).rows, score if rows else _score_items(self.task))
        groups = merging.group_by_question(_opinion_records(previous))
        rows = []
        for qid, records in sorted(groups.items()):
            merged = merging.merge_opinions(records, previous.keys(), self.own_peer)
            if merged is None or not merged.prompt:
                continue
            item = merging.decide_item(merged, self.top_k, self.weights.critique)
            rows.append(
                {
                    "prompt": decide_messages(merged.prompt, item.critiques),
                    "question_id": qid,
                    "question": item.question,
                    "answer": item.answer,
                    "context": item.decide_context,
                    "shared_prompt": item.prompt,
                }
            )
        weights = self.weights.decide
        score = lambda rows_, texts: [  # noqa: E731
            score_decision(t, r["context"], weights).total for r, t in zip(rows_, texts, strict=True)
        ]
        return StagePlan(2, rows or self._stage0(round_).rows, score if rows else _score_items(self.task))

    def winners(self, final_stage: PeerOutputs) -> list[str]:
        groups = merging.group_by_question(_decision_records(final_stage))
        return merging.round_winners(groups, merging.DEFAULT_WINNERS, self.weights.decide, self.own_peer)

    def rescore(self, stage: int, outputs: PeerOutputs) -> dict[str, dict[str, float]]:
        from rlswarm_core.training.rescore import rescore_three_stages

        def answer(text: str, reference: str) -> float:
            return self.task.score(text, TaskItem(question="", answer=reference)).total

        return rescore_three_stages(stage, outputs, self.weights, self.own_peer, answer)


class SingleStagePipeline(StagePipeline):
    """One answer stage per round (reasoning-gym): I local questions plus J questions the swarm worked
    on in the previous round, scored by the task family's own scorer."""

    stage_count = 1

    def __init__(self, task: TaskFamily, own_peer: str, local_count: int, swarm_count: int) -> None:
        self.task = task
        self.own_peer = own_peer
        self.local_count = max(1, local_count)
        self.swarm_count = swarm_count
        self.swarm_pool: list[TaskItem] = []

    def remember_swarm(self, outputs: PeerOutputs) -> None:
        """Questions peers published (with their answers) become candidates for the next batch."""
        from rlswarm_core.training.tasks.sapo import group_swarm_rollouts

        records = {
            peer: [_rollout_record(r) for r in outs.values()]
            for peer, outs in outputs.items()
            if peer != self.own_peer
        }
        self.swarm_pool = [r.item for r in group_swarm_rollouts(records)]

    def plan(self, round_: int, stage: int, previous: PeerOutputs | None) -> StagePlan:
        from rlswarm_core.training.tasks.sapo import Rollout, mix_rollouts

        local = [
            Rollout(self.own_peer, it)
            for it in self.task.load_items(self.local_count + self.swarm_count, seed=round_)
        ]
        swarm = [Rollout("swarm", it) for it in self.swarm_pool]
        batch = mix_rollouts(
            local, swarm, self.local_count, self.swarm_count, seed=round_, own_peer=self.own_peer
        )
        shared = sum(r.peer == "swarm" for r in batch)
        return StagePlan(0, _items_rows(self.task, [r.item for r in batch]), _score_items(self.task), shared)

    def winners(self, final_stage: PeerOutputs) -> list[str]:
        # recomputed from the published outputs, never the rewards peers claim for them
        rescored = self.rescore(0, final_stage)
        totals = {peer: sum(rescored.get(peer, {}).values()) for peer in final_stage}
        return [p for p, _ in sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))][
            : merging.DEFAULT_WINNERS
        ]

    def rescore(self, stage: int, outputs: PeerOutputs) -> dict[str, dict[str, float]]:
        from rlswarm_core.training.rescore import rescore_items

        return rescore_items(outputs, lambda text, item: self.task.score(text, item).total)


def _rollout_record(record: Any) -> dict[str, Any]:
    rollout: dict[str, Any] = {
        "question": record.question,
        "answer": record.answer or "",
        "completions": [record.completion],
    }
    raw = record.extra.get(ENTRY_EXTRA)
    if raw:
        try:
            entry = json.loads(raw)
        except ValueError:
            entry = None
        if isinstance(entry, dict):
            rollout["entry"] = entry
    return rollout


def make_pipeline(settings: Any, own_peer: str) -> StagePipeline:
    from rlswarm_core.training.tasks import get_task_family

    if settings.task_family == "code":
        from rlswarm_core.training.tasks.code.setup import code_pipeline

        return code_pipeline(settings, own_peer)
    options: dict[str, Any] = {}
    if settings.task_family == "gsm8k" and settings.task_source:
        options["source"] = settings.task_source
    task = get_task_family(settings.task_family, **options)
    if settings.task_family == "gsm8k":
        return Gsm8kPipeline(task, own_peer, settings.questions_per_round)
    return SingleStagePipeline(task, own_peer, settings.local_rollouts, settings.swarm_rollouts)


__all__ = [
    "Gsm8kPipeline",
    "Publishable",
    "SingleStagePipeline",
    "StagePipeline",
    "StagePlan",
    "chat",
    "make_pipeline",
]
