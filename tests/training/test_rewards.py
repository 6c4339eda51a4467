"""Reward functions on tables of good, partial and malformed replies."""

from __future__ import annotations

import math
import subprocess
import sys
import time

import pytest

from rlswarm_core.errors import ConfigError
from rlswarm_core.training.rewards import (
    AnswerWeights,
    CritiqueContext,
    DecideContext,
    RewardWeights,
    critic_choices,
    majority_vote,
    score_answer,
    score_critique,
    score_decision,
)
from rlswarm_core.training.rewards.text import completion_text, extract_tag, xml_count

GOOD = "<think>\nAdd 2 and 2.\nThat makes 4.\n</think>\n<answer>\n4\n</answer>\n"
HUGE = "<think>\n" + "x" * 2_000_000 + "\n</think>\n<answer>\n4\n</answer>\n" + "y" * 500_000
GARBAGE = "\x00\ufffd<<answer>>>]]</think><think>\n\n</answer<answer"


def total(completion: object, answer: object = "4") -> float:
    return score_answer(completion, answer).total


@pytest.mark.parametrize(
    ("completion", "expected"),
    [
        (
            GOOD,
            {"correctness": 2.0, "integer": 0.5, "strict_format": 0.5, "soft_format": 0.5, "xml_count": 0.5},
        ),
        # No trailing newline still counts as the strict layout.
        (GOOD.rstrip("\n"), {"correctness": 2.0, "strict_format": 0.5, "soft_format": 0.5, "xml_count": 0.5}),
        # Wrong answer keeps the format rewards.
        (GOOD.replace("\n4\n", "\n5\n"), {"correctness": 0.0, "integer": 0.5, "strict_format": 0.5}),
        # Non-integer answer.
        (GOOD.replace("\n4\n", "\nfour\n"), {"correctness": 0.0, "integer": 0.0, "soft_format": 0.5}),
        # Single-line tags: soft layout only, no well-formed tag lines.
        (
            "<think>2+2</think> <answer>4</answer>",
            {"correctness": 2.0, "strict_format": 0.0, "soft_format": 0.5, "xml_count": 0.0},
        ),
        # Missing tags: a bare number is not an answer.
        (
            "4",
            {"correctness": 0.0, "integer": 0.0, "strict_format": 0.0, "soft_format": 0.0, "xml_count": 0.0},
        ),
        # Answer without a think block: no layout reward, two well-formed tag lines.
        ("<answer>\n4\n</answer>", {"correctness": 2.0, "strict_format": 0.0, "soft_format": 0.0}),
        # Unclosed answer: the content to the end is the answer, no layout.
        (
            "<think>\nhm\n</think>\n<answer>\n4",
            {"correctness": 2.0, "strict_format": 0.0, "soft_format": 0.0},
        ),
        # Text after the answer: strict fails, xml count loses 0.001 per trailing character.
        (GOOD + "bye", {"strict_format": 0.0, "soft_format": 0.5, "xml_count": pytest.approx(0.497)}),
        # Duplicated tags: the tag lines are no longer written exactly once.
        (GOOD + GOOD, {"correctness": 2.0, "strict_format": 0.0}),
        (
            "",
            {"correctness": 0.0, "integer": 0.0, "strict_format": 0.0, "soft_format": 0.0, "xml_count": 0.0},
        ),
        (GARBAGE, {"correctness": 0.0, "strict_format": 0.0, "soft_format": 0.0}),
    ],
)
def test_answer_rewards_table(completion: str, expected: dict[str, float]) -> None:
    got = score_answer(completion, "4").components
    for name, value in expected.items():
        assert got[name] == value, (name, got)


def test_answer_maximum_is_four_and_xml_count_is_bounded() -> None:
    assert total(GOOD) == pytest.approx(4.0)
    assert total(GOOD.rstrip("\n")) == pytest.approx(4.0)
    assert score_answer(GOOD + "z" * 10_000, "4").components["xml_count"] == -1.0


@pytest.mark.parametrize(
    "bad", [None, 42, 3.5, b"<answer>4</answer>", object(), [], {}, [{"role": "x"}], {"content": 7}]
)
def test_wrong_types_score_zero(bad: object) -> None:
    assert total(bad) == 0.0
    ctx = CritiqueContext("q", "4", {"Student #0": GOOD})
    assert score_critique(bad, ctx).total == 0.0
    assert score_decision(bad, DecideContext("q", "4", {"Student #0": GOOD}, (GOOD,))).total == 0.0


def test_chat_shaped_completions_and_numeric_reference() -> None:
    conversation = [{"role": "assistant", "content": GOOD}]
    assert total(conversation) == total({"role": "assistant", "content": GOOD}) == total(GOOD)
    assert total(GOOD, 4) == total(GOOD, 4.0) == 4.0
    assert total(GOOD, None) == 2.0  # nothing to compare against: no correctness
    assert total(GOOD, True) == 2.0


def test_huge_completion_is_fast_and_finite() -> None:
    start = time.perf_counter()
    score = score_answer(HUGE, "4")
    ctx = DecideContext("What is 2+2?", "4", {"Student #0": HUGE}, (HUGE,) * 5)
    decision = score_decision("<question>\n" + "q" * 1_000_000 + "\n</question>" + HUGE, ctx)
    critique = score_critique(HUGE, CritiqueContext("q", "4", {"Student #0": HUGE}))
    assert time.perf_counter() - start < 3.0
    assert score.components["correctness"] == 2.0
    assert score.components["xml_count"] == -1.0
    assert decision.components["question_recreation"] == 0.0
    for breakdown in (score, decision, critique):
        assert math.isfinite(breakdown.total)


def test_weights_are_configurable() -> None:
    weights = RewardWeights.from_mapping({"answer": {"correctness": 10, "xml_count": 0}})
    assert weights.answer.correctness == 10.0 and weights.answer.integer == 0.5
    assert score_answer(GOOD, "4", weights.answer).total == pytest.approx(11.5)
    assert score_answer(GOOD, "4", AnswerWeights(correctness=0.0)).total == pytest.approx(2.0)
    assert RewardWeights.from_mapping(None) == RewardWeights()


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        ({"stage9": {}}, "unknown reward stage"),
        ({"answer": {"speed": 1}}, "unknown reward weight answer.speed"),
        ({"answer": {"correctness": "high"}}, "must be a number"),
        ({"answer": {"correctness": True}}, "must be a number"),
        ({"critique": 3}, "must be a mapping"),
        ([1, 2], "must be a mapping"),
    ],
)
def test_bad_weights_are_one_clear_error(data: object, fragment: str) -> None:
    with pytest.raises(ConfigError) as err:
        RewardWeights.from_mapping(data)  # type: ignore[arg-type]
    assert fragment in str(err.value)


# ----- stage 1 (critique) -----

RIGHT = GOOD
WRONG = GOOD.replace("\n4\n", "\n5\n")
STUDENTS = {"Student #0": WRONG, "Student #1": RIGHT}


def critique(identify: str, tail: str = "\n") -> str:
    return (
        "<compare>\nStudent #1 adds correctly.\n</compare>\n<explain>\nIt is right.\n</explain>\n"
        f"<identify>\n{identify}\n</identify>{tail}"
    )


@pytest.mark.parametrize(
    ("completion", "students", "expected"),
    [
        # Picks the right student: 2.0 id + 2.0 x (1.0 correct + 0.5 int + 0.5 strict + 0.5 soft + 0.5 xml).
        (
            critique("Student #1"),
            STUDENTS,
            {
                "proper_id": 2.0,
                "chosen_correctness": 6.0,
                "strict_format": 0.5,
                "soft_format": 0.5,
                "xml_count": 0.75,
            },
        ),
        # Picks a real but wrong student: only the format part of its answer counts.
        (critique("Student #0"), STUDENTS, {"proper_id": 2.0, "chosen_correctness": 4.0}),
        # Names a student who does not exist.
        (
            critique("Student #7"),
            STUDENTS,
            {"proper_id": 0.0, "chosen_correctness": 0.0, "strict_format": 0.5},
        ),
        # Rightly says no one is correct: the large bonus.
        (critique("None"), {"Student #0": WRONG}, {"proper_id": 0.0, "chosen_correctness": 20.0}),
        (critique("no one is correct."), {"Student #0": WRONG}, {"chosen_correctness": 20.0}),
        # Wrongly says no one is correct.
        (critique("None"), STUDENTS, {"chosen_correctness": 0.0}),
        # Missing identify tag.
        (
            "<compare>\nx\n</compare>\n<explain>\ny\n</explain>\n",
            STUDENTS,
            {
                "proper_id": 0.0,
                "chosen_correctness": 0.0,
                "strict_format": 0.0,
                "soft_format": 0.0,
                "xml_count": 0.5,
            },
        ),
        # Soft layout only.
        (
            "<compare>a</compare><explain>b</explain><identify>Student #1</identify>",
            STUDENTS,
            {"proper_id": 2.0, "strict_format": 0.0, "soft_format": 0.5, "xml_count": 0.0},
        ),
        ("", STUDENTS, {"proper_id": 0.0, "chosen_correctness": 0.0, "xml_count": 0.0}),
        (GARBAGE, STUDENTS, {"proper_id": 0.0, "chosen_correctness": 0.0}),
        # No students at all: "None" earns nothing (there was nothing to judge).
        (critique("None"), {}, {"chosen_correctness": 0.0}),
    ],
)
def test_critique_rewards_table(
    completion: str, students: dict[str, str], expected: dict[str, float]
) -> None:
    got = score_critique(completion, CritiqueContext("What is 2+2?", "4", students)).components
    for name, value in expected.items():
        assert got[name] == pytest.approx(value), (name, got)


def test_critique_trailing_text_costs_xml_credit() -> None:
    ctx = CritiqueContext("q", "4", STUDENTS)
    clean = score_critique(critique("Student #1"), ctx).components["xml_count"]
    messy = score_critique(critique("Student #1", "\nand more"), ctx).components["xml_count"]
    assert messy == pytest.approx(clean - 0.008)


# ----- stage 2 (decide) -----


def decision(majority: str, question: str = "What is 2+2?", answer: str = "4") -> str:
    return (
        "<summarize_feedback>\nMost critics liked Student #1.\n</summarize_feedback>\n"
        f"<majority>\n{majority}\n</majority>\n<question>\n{question}\n</question>\n"
        f"<think>\n2+2=4\n</think>\n<answer>\n{answer}\n</answer>\n"
    )


CRITIQUES = (
    critique("Student #1"),
    critique("Student #1"),
    critique("Student #0"),
    "No feedback received...",
)


@pytest.mark.parametrize(
    ("completion", "critiques", "expected"),
    [
        (
            decision("Student #1"),
            CRITIQUES,
            {
                "consensus": 2.0,
                "consensus_correctness": 6.0,
                "question_recreation": 1.0,
                "final_correctness": 2.0,
                "strict_format": 0.5,
                "soft_format": 0.5,
                "xml_count": 1.25,
            },
        ),
        # Disagrees with the majority, and the pick is wrong.
        (decision("Student #0"), CRITIQUES, {"consensus": 0.0, "consensus_correctness": 4.0}),
        # A tie: both tied picks agree with the majority.
        (decision("Student #0"), CRITIQUES[1:], {"consensus": 2.0}),
        # No critique has an identify tag: there is no majority.
        (
            decision("Student #1"),
            ("No feedback received...", "garbage"),
            {"consensus": 0.0, "consensus_correctness": 6.0},
        ),
        # Partial question, wrong final answer.
        (
            decision("Student #1", "What is", "5"),
            CRITIQUES,
            {"question_recreation": pytest.approx(0.7, abs=0.05), "final_correctness": 0.0},
        ),
        (
            "<majority>Student #1</majority>",
            CRITIQUES,
            {
                "consensus": 2.0,
                "strict_format": 0.0,
                "soft_format": 0.0,
                "question_recreation": 0.0,
                "final_correctness": 0.0,
            },
        ),
        ("", CRITIQUES, {"consensus": 0.0, "xml_count": 0.0}),
        (GARBAGE, CRITIQUES, {"consensus": 0.0, "final_correctness": 0.0}),
    ],
)
def test_decide_rewards_table(
    completion: str, critiques: tuple[str, ...], expected: dict[str, float]
) -> None:
    got = score_decision(completion, DecideContext("What is 2+2?", "4", STUDENTS, critiques)).components
    for name, value in expected.items():
        assert got[name] == value, (name, got)


def test_majority_vote() -> None:
    assert majority_vote(["Student #1", "Student #0", " Student #1 "]) == ["Student #1"]
    assert majority_vote(["A", "B"]) == ["A", "B"]
    assert majority_vote(["None", "None", "A"]) == ["None"]
    assert majority_vote([]) == []
    assert majority_vote([None, 3, "", "  ", b"A"]) == []
    assert critic_choices(CRITIQUES) == ["Student #1", "Student #1", "Student #0"]


def test_extractors() -> None:
    assert extract_tag("<a>1</a><a>2</a>", "a") == "2"
    assert extract_tag("<a> open to the end", "a") == "open to the end"
    assert extract_tag("none here", "a") is None
    assert completion_text([[{"content": "x"}]]) == "x"
    assert completion_text([{"content": None}]) is None
    assert xml_count("<think>\n", ()) == 0.0


def test_rewards_import_without_torch() -> None:
    code = (
        "import sys; import rlswarm_core.training.rewards, rlswarm_core.training.merging, "
        "rlswarm_core.training.prompts, rlswarm_core.training.tasks, rlswarm_core.training.models, "
        "rlswarm_core.training.rewards.trl_funcs, rlswarm_core.training.tiny_model; "
        "heavy = ('torch', 'transformers', 'trl', 'datasets', 'reasoning_gym'); "
        "bad = [m for m in heavy if m in sys.modules]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_trl_reward_functions_read_context_from_the_prompt() -> None:
    from rlswarm_core.training import prompts
    from rlswarm_core.training.rewards.trl_funcs import reward_func

    answer = reward_func("answer")
    assert answer.__name__ == "answer_reward"
    conversation = [{"role": "assistant", "content": GOOD}]
    assert answer(prompts=[[], []], completions=[conversation, "junk"], answer=["4", "4"]) == [4.0, 0.0]
    assert answer(prompts=["p"], completions=[GOOD]) == [2.0]  # no answer column: no correctness

    question = "What is 2+2?"
    crit_prompt = prompts.critique_messages(question, STUDENTS)
    critique_reward = reward_func("critique")
    got = critique_reward(prompts=[crit_prompt], completions=[critique("Student #1")], answer=["4"])
    want = score_critique(critique("Student #1"), CritiqueContext(question, "4", STUDENTS)).total
    assert got == [pytest.approx(want)] and want > 9

    dec_prompt = prompts.decide_messages(crit_prompt[1]["content"], {"Criticism #0": critique("Student #1")})
    decide_reward = reward_func("decide", RewardWeights.from_mapping({"decide": {"consensus": 5}}))
    got = decide_reward(prompts=[dec_prompt], completions=[decision("Student #1")], answer=["4"])
    ctx = DecideContext(question, "4", STUDENTS, (critique("Student #1"),))
    assert got == [pytest.approx(score_decision(decision("Student #1"), ctx).total + 3.0)]
    with pytest.raises(ValueError):
        reward_func("stage9")
