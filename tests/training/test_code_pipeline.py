"""The code family's stage pipeline over real swarm records and the real sandbox: parallel scoring with
pass@1, peers' problems mixed into the batch by reference, and winners by re-running peers' code."""

from __future__ import annotations

import json
import time

import pytest

from rlswarm_core.errors import ConfigError
from rlswarm_core.sandbox.fallback import RlimitSandbox
from rlswarm_core.settings.model import NodeSettings
from rlswarm_core.swarm.records import OutputRecord
from rlswarm_core.training.merging import question_hash
from rlswarm_core.training.stages import ENTRY_EXTRA, make_pipeline
from rlswarm_core.training.tasks.code import CodeTask
from rlswarm_core.training.tasks.code.pipeline import CodePipeline, CodeStagePlan
from rlswarm_core.training.tasks.code.sources import _human_eval_rows
from tests.sandbox.fixtures import bubblewrap, nothing_left_behind

__all__ = ["bubblewrap", "nothing_left_behind"]

A, B, C = (
    "QmPeerAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    "QmPeerBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB",
    "QmPeerCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCC",
)
REFERENCE = {row["task_id"]: row["prompt"] + row["canonical_solution"] for row in _human_eval_rows()}


def _settings(**values: object) -> NodeSettings:
    base: dict[str, object] = {
        "task_family": "code",
        "task_source": "human-eval",
        "local_rollouts": 2,
        "swarm_rollouts": 2,
    }
    return NodeSettings(**{**base, **values})


def _pipeline(peer: str) -> CodePipeline:
    pipeline = make_pipeline(_settings(), peer)
    assert isinstance(pipeline, CodePipeline)
    return pipeline


def _record(peer: str, question: str, completion: str, reward: float, entry: object) -> OutputRecord:
    extra = {ENTRY_EXTRA: json.dumps(entry)} if entry is not None else {}
    return OutputRecord(
        peer_id=peer,
        round=0,
        stage=0,
        timestamp=time.time(),
        question_hash=question_hash(question),
        question=question,
        answer=None,
        completion=completion,
        reward=reward,
        extra=extra,
    )


def _fenced(code: str) -> str:
    return f"```python\n{code}\n```"


def test_scoring_counts_pass_at_1(bubblewrap: None, nothing_left_behind: None) -> None:
    pipeline = _pipeline(A)
    plan = pipeline.plan(0, 0, None)
    assert isinstance(plan, CodeStagePlan) and plan.pass_at_1 is None
    assert len(plan.rows) == 4 and plan.swarm_questions == 0  # topped up locally: no swarm yet
    right = [_fenced(REFERENCE[row["answer"]]) for row in plan.rows]
    wrong = [_fenced("def nothing():\n    pass") for _ in plan.rows]
    assert plan.score(plan.rows, right) == pytest.approx([1.2] * 4)
    assert plan.score(plan.rows, wrong) == pytest.approx([0.2] * 4)
    assert plan.pass_at_1 == 0.5 and plan.tally.scored == 8
    # what the node publishes names the problem by reference, never with its tests
    best = {row["question_id"]: (right[i], 1.2) for i, row in enumerate(plan.rows)}
    published = plan.publishable(best)
    entry = json.loads(published[0].extra[ENTRY_EXTRA])
    assert entry == {"source": "human-eval", "task_id": plan.rows[0]["answer"]}


def test_nodes_draw_different_problems_and_mix_in_the_swarms() -> None:
    a, b = _pipeline(A), _pipeline(B)
    mine, theirs = a.plan(0, 0, None), b.plan(0, 0, None)
    assert {r["answer"] for r in mine.rows}.isdisjoint({r["answer"] for r in theirs.rows})
    assert a.plan(0, 0, None).rows[0]["answer"] == mine.rows[0]["answer"]  # the same draw again
    published = {
        question_hash(p.question): _record(B, p.question, "x", 0.0, json.loads(p.extra[ENTRY_EXTRA]))
        for p in theirs.publishable({r["question_id"]: ("x", 0.0) for r in theirs.rows})
    }
    foreign = {"source": "mbpp", "task_id": "2"}
    forged = {"source": "human-eval", "task_id": "HumanEval/forged"}
    strays = {
        question_hash(q): _record(C, q, "x", 0.0, e)
        for q, e in (("q1", foreign), ("q2", forged), ("q3", None), ("q4", "HumanEval/3"))
    }
    a.remember_swarm({A: {}, B: published, C: strays})
    assert {i.answer for i in a.swarm_pool} == {r["answer"] for r in theirs.rows}
    mixed = a.plan(1, 0, None)
    assert mixed.swarm_questions == 2 and len(mixed.rows) == 4
    shared = [r for r in mixed.rows if r["answer"] in {x["answer"] for x in theirs.rows}]
    assert len(shared) == 2 and all(r["item"].entry["source"] == "human-eval" for r in shared)


def test_winners_rerun_peers_code(bubblewrap: None, nothing_left_behind: None) -> None:
    """A peer that claims a high reward for wrong code loses to one that reports nothing for right code."""
    task = CodeTask(source="human-eval")
    items = task.load_items(2, seed=7)

    def outputs(peer: str, code_for: object, reward: float) -> dict[str, OutputRecord]:
        return {
            question_hash(i.question): _record(
                peer, i.question, _fenced(code_for(i)), reward, dict(i.entry or {})
            )
            for i in items
        }

    final = {
        A: outputs(A, lambda i: "def f():\n    return None", 1000.0),
        B: outputs(B, lambda i: REFERENCE[i.answer], 0.0),
        C: {},
    }
    pipeline = _pipeline(A)
    totals = pipeline.rescore(final)
    assert totals == pytest.approx({A: 0.4, B: 2.4, C: 0.0})
    assert pipeline.winners(final) == [B, A, C]


def test_settings_choose_the_sandbox() -> None:
    pipeline = make_pipeline(_settings(code_sandbox="rlimits", code_test_timeout_s=7.0), A)
    assert isinstance(pipeline, CodePipeline)
    sandbox = pipeline.code_task.sandbox
    assert isinstance(sandbox, RlimitSandbox)
    assert sandbox.limits.test_timeout_s == 7.0 and sandbox.limits.wall_s >= 3 * 7.0
    with pytest.raises(ConfigError, match="unknown code reward weight"):
        make_pipeline(_settings(code_reward_weights={"style": 1.0}), A)
