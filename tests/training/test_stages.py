"""The stage pipelines over real swarm records: what each stage trains on, and the round's winners."""

from __future__ import annotations

import time

from rlswarm_core.swarm.records import OutputRecord
from rlswarm_core.training.merging import NO_ANSWER, question_hash
from rlswarm_core.training.prompts import parse_students
from rlswarm_core.training.stages import PROMPT_EXTRA, Gsm8kPipeline, SingleStagePipeline
from rlswarm_core.training.tasks import get_task_family

A, B, C = (
    "QmPeerAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    "QmPeerBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB",
    "QmPeerC",
)
GOOD = "<think>\nadd them\n</think>\n<answer>\n{}\n</answer>\n"


def _record(peer: str, stage: int, question: str, answer: str, completion: str, **extra: str) -> OutputRecord:
    return OutputRecord(
        peer_id=peer,
        round=0,
        stage=stage,
        timestamp=time.time(),
        question_hash=question_hash(question),
        question=question,
        answer=answer,
        completion=completion,
        reward=1.0,
        extra=extra,
    )


def _pipeline(own: str = A) -> Gsm8kPipeline:
    task = get_task_family("gsm8k", source="reasoning-gym:gsm_symbolic")
    return Gsm8kPipeline(task, own, questions_per_round=3)


def test_stage0_questions_are_the_same_on_every_node() -> None:
    first, second = _pipeline(A).plan(4, 0, None), _pipeline(B).plan(4, 0, None)
    assert [r["question"] for r in first.rows] == [r["question"] for r in second.rows]
    assert len(first.rows) == 3 and first.rows[0]["prompt"][-1]["role"] == "user"
    scores = first.score(first.rows[:1], [GOOD.format(first.rows[0]["answer"])])
    assert scores[0] >= 2.0  # correct, integer, formatted


def test_critique_stage_merges_peers_and_fills_the_silent() -> None:
    pipeline = _pipeline(A)
    rows0 = pipeline.plan(0, 0, None).rows
    q0, q1 = rows0[0], rows0[1]
    previous = {
        A: {
            question_hash(q0["question"]): _record(
                A, 0, q0["question"], q0["answer"], GOOD.format(q0["answer"])
            )
        },
        B: {
            question_hash(q0["question"]): _record(B, 0, q0["question"], q0["answer"], GOOD.format("7")),
            question_hash(q1["question"]): _record(
                B, 0, q1["question"], q1["answer"], GOOD.format(q1["answer"])
            ),
        },
    }
    plan = pipeline.plan(0, 1, previous)
    by_question = {r["question"]: r for r in plan.rows}
    assert set(by_question) == {q0["question"], q1["question"]}
    students = by_question[q0["question"]]["context"].students
    assert len(students) == 2 and any(q0["answer"] in s for s in students.values())
    # A said nothing about q1: its slot is the placeholder, never B's text under A's name.
    assert NO_ANSWER in by_question[q1["question"]]["context"].students.values()
    shared = by_question[q0["question"]]["shared_prompt"]
    assert parse_students(shared) == students
    best = {r["question_id"]: ("<identify>Student #0</identify>", 2.0) for r in plan.rows}
    published = plan.publishable(best)
    assert all(p.extra[PROMPT_EXTRA] for p in published)


def test_decide_stage_and_winners() -> None:
    pipeline = _pipeline(A)
    q = pipeline.plan(0, 0, None).rows[0]
    stage0 = {
        peer: {question_hash(q["question"]): _record(peer, 0, q["question"], q["answer"], GOOD.format(ans))}
        for peer, ans in ((A, q["answer"]), (B, "-1"))
    }
    critique = pipeline.plan(0, 1, stage0)
    prompt = critique.rows[0]["shared_prompt"]
    stage1 = {
        peer: {
            question_hash(q["question"]): _record(
                peer,
                1,
                q["question"],
                q["answer"],
                "<identify>Student #0</identify>",
                **{PROMPT_EXTRA: prompt},
            )
        }
        for peer in (A, B)
    }
    decide = pipeline.plan(0, 2, stage1)
    assert decide.rows and decide.rows[0]["context"].critiques
    decide_prompt = decide.rows[0]["shared_prompt"]
    right = f"<majority>Student #0</majority><question>{q['question']}</question>" + GOOD.format(q["answer"])
    stage2 = {
        A: {
            question_hash(q["question"]): _record(
                A, 2, q["question"], q["answer"], right, **{PROMPT_EXTRA: decide_prompt}
            )
        },
        B: {
            question_hash(q["question"]): _record(
                B, 2, q["question"], q["answer"], "no idea", **{PROMPT_EXTRA: decide_prompt}
            )
        },
    }
    winners = pipeline.winners(stage2)
    assert winners[0] == A and set(winners) <= {A, B}


def test_missing_swarm_falls_back_to_own_questions() -> None:
    plan = _pipeline(A).plan(2, 1, {})
    assert plan.rows and "item" in plan.rows[0]


def test_single_stage_mixes_swarm_questions() -> None:
    task = get_task_family("reasoning-gym")
    pipeline = SingleStagePipeline(task, A, local_count=2, swarm_count=2)
    alone = pipeline.plan(0, 0, None)
    assert len(alone.rows) == 4  # topped up with local questions when the swarm has none
    # What B publishes carries the generator's record, so A can score B's questions with their scorer.
    other = SingleStagePipeline(task, B, local_count=2, swarm_count=0)
    theirs_plan = other.plan(99, 0, None)
    best = {r["question_id"]: ("x", 0.5) for r in theirs_plan.rows}
    published = {
        question_hash(p.question): _record(B, 0, p.question, p.answer or "", p.completion, **p.extra)
        for p in theirs_plan.publishable(best)
    }
    pipeline.remember_swarm({B: published})
    mixed = pipeline.plan(1, 0, None)
    questions = [r["question"] for r in mixed.rows]
    assert {r["question"] for r in theirs_plan.rows} <= set(questions) and len(questions) == 4
    swarm_rows = [r for r in mixed.rows if r["question"] in {x["question"] for x in theirs_plan.rows}]
    right = [f"<answer>{r['answer']}</answer>" for r in swarm_rows]
    assert mixed.score(swarm_rows, right) == [1.0] * len(swarm_rows)
    assert pipeline.winners({A: {"q": _record(A, 0, "q", "1", "a")}, C: {}}) == [A, C]
