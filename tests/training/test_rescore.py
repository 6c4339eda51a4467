"""Recomputing peers' rewards from what they publish gives back exactly what an honest trainer claimed,
in every stage of both task families; a claim that was not earned is not reproduced."""

from __future__ import annotations

import time
from typing import Any

import pytest

from rlswarm_core.swarm.records import OutputRecord
from rlswarm_core.training.merging import question_hash
from rlswarm_core.training.stages import Gsm8kPipeline, SingleStagePipeline, StagePlan
from rlswarm_core.training.tasks import get_task_family

A = "QmPeerAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
B = "QmPeerBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB"
GOOD = "<think>\nadd them\n</think>\n<answer>\n{}\n</answer>\n"


def _replies(stage: int, row: dict[str, Any], peer: str) -> list[str]:
    answer = row.get("answer") or "0"
    if stage == 0:
        return [GOOD.format(answer), GOOD.format("-3"), "no format at all"]
    if stage == 1:
        return [
            "<compare>same</compare>\n<explain>ok</explain>\n<identify>Student #0</identify>",
            "<identify>Student #1</identify>",
            "<identify>None</identify>",
        ]
    return [
        f"<summarize_feedback>x</summarize_feedback>\n<majority>Student #0</majority>\n"
        f"<question>{row['question']}</question>\n" + GOOD.format(answer),
        "<majority>Student #1</majority>",
    ]


def _publish(peer: str, stage: int, plan: StagePlan) -> tuple[dict[str, OutputRecord], dict[str, float]]:
    """What an honest node publishes after training on ``plan``: its best reply per question, with the
    reward the stage's scorer gave it."""
    best: dict[str, tuple[str, float]] = {}
    for row in plan.rows:
        texts = _replies(stage, row, peer)
        scores = plan.score([row] * len(texts), texts)
        best[row["question_id"]] = max(zip(texts, scores, strict=True), key=lambda pair: pair[1])
    records = {}
    for p in plan.publishable(best):
        qh = question_hash(p.question)
        records[qh] = OutputRecord(
            peer_id=peer,
            round=0,
            stage=stage,
            timestamp=time.time(),
            question_hash=qh,
            question=p.question,
            answer=p.answer,
            completion=p.completion,
            reward=p.reward,
            extra=p.extra,
        )
    claims = {qh: r.reward for qh, r in records.items()}
    return records, claims


def test_honest_claims_are_reproduced_in_all_three_stages() -> None:
    task = get_task_family("gsm8k", source="reasoning-gym:gsm_symbolic")
    pipelines = {peer: Gsm8kPipeline(task, peer, questions_per_round=3) for peer in (A, B)}
    previous = None
    for stage in range(3):
        outputs, claims = {}, {}
        for peer, pipeline in pipelines.items():
            plan = pipeline.plan(0, stage, previous)
            assert stage == 0 or "context" in plan.rows[0], "the stage fell back to answers"
            outputs[peer], claims[peer] = _publish(peer, stage, plan)
        for peer in (A, B):
            # every node, whoever it is, recomputes every peer's claims exactly
            assert pipelines[peer].rescore(stage, outputs) == claims, stage
        previous = outputs


def test_an_unearned_claim_is_not_reproduced() -> None:
    task = get_task_family("gsm8k", source="reasoning-gym:gsm_symbolic")
    pipeline = Gsm8kPipeline(task, A, questions_per_round=2)
    records, claims = _publish(B, 0, pipeline.plan(0, 0, None))
    inflated = {qh: r.model_copy(update={"reward": 1e9}) for qh, r in records.items()}
    assert pipeline.rescore(0, {B: inflated}) == {B: claims}
    # a different reference answer in the record does not change what the answer is scored against
    own, _ = _publish(A, 0, pipeline.plan(0, 0, None))
    lied = {qh: r.model_copy(update={"answer": "-3"}) for qh, r in records.items()}
    assert pipeline.rescore(0, {A: own, B: lied})[B] == claims


@pytest.mark.parametrize("seed", [0, 7])
def test_reasoning_gym_claims_are_reproduced(seed: int) -> None:
    task = get_task_family("reasoning-gym")
    pipeline = SingleStagePipeline(task, A, local_count=3, swarm_count=0)
    plan = pipeline.plan(seed, 0, None)
    best = {}
    for row in plan.rows:
        texts = [f"<answer>{row['answer']}</answer>", "<answer>nope</answer>"]
        scores = plan.score([row, row], texts)
        best[row["question_id"]] = max(zip(texts, scores, strict=True), key=lambda pair: pair[1])
    records = {
        question_hash(p.question): OutputRecord(
            peer_id=A,
            round=0,
            stage=0,
            timestamp=time.time(),
            question_hash=question_hash(p.question),
            question=p.question,
            answer=p.answer,
            completion=p.completion,
            reward=p.reward,
            extra=p.extra,
        )
        for p in plan.publishable(best)
    }
    assert SingleStagePipeline(task, B, 1, 0).rescore(0, {A: records}) == {
        A: {qh: r.reward for qh, r in records.items()}
    }
