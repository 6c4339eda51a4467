"""Task families produce questions offline and score replies; rollout mixing is a pure function."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rlswarm_core.errors import ConfigError
from rlswarm_core.training.prompts import ANSWER_SYSTEM
from rlswarm_core.training.tasks import TaskDataError, TaskItem, get_task_family
from rlswarm_core.training.tasks.gsm8k import DEFAULT_SOURCE, GENERATED_SOURCE, gsm8k_final_answer
from rlswarm_core.training.tasks.reasoning_gym import score_with_reasoning_gym
from rlswarm_core.training.tasks.sapo import (
    Rollout,
    group_swarm_rollouts,
    mix_rollouts,
    rollout_from_record,
    rollout_record,
)


def reply(answer: str) -> str:
    return f"<think>\nworking\n</think>\n<answer>\n{answer}\n</answer>\n"


@pytest.fixture
def gsm_jsonl(tmp_path: Path) -> Path:
    rows = [
        {"question": "Ann has 2 cats and gets 3 more. How many cats?", "answer": "2 + 3 = 5\n#### 5"},
        {"question": "A box holds 1,200 pins; 1 more is added. How many pins?", "answer": "#### 1,201"},
        {"question": "What is 6 times 7?", "answer": 42},
    ]
    path = tmp_path / "gsm.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    return path


def test_gsm8k_from_local_jsonl(gsm_jsonl: Path, rlswarm_home: Path) -> None:
    task = get_task_family("gsm8k", source=str(gsm_jsonl))
    assert task.stages == ("answer", "critique", "decide")
    items = task.load_items(5, seed=1)
    assert len(items) == 5
    assert {i.answer for i in items} == {"5", "1201", "42"}
    assert items == task.load_items(5, seed=1)
    assert [i.question for i in items] != [i.question for i in task.load_items(5, seed=2)] or len(items) == 5
    by_answer = {i.answer: i for i in items}
    assert task.score(reply("1201"), by_answer["1201"]).total == pytest.approx(4.0)
    assert task.score(reply("1,201"), by_answer["1201"]).components["correctness"] == 0.0
    messages = task.messages(items[0])
    assert messages[0] == {"role": "system", "content": ANSWER_SYSTEM}
    assert messages[1]["content"] == items[0].question
    assert (rlswarm_home / "data" / "datasets").is_dir()  # the Arrow cache stays in rlswarm's folder


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ('{"question": "no answer"}\n', "needs a non-empty 'question' and 'answer'"),
        ('{"question": "", "answer": "#### 3"}\n', "needs a non-empty"),
        ("this is not json\n", "cannot read"),
    ],
)
def test_gsm8k_bad_jsonl_is_one_clear_error(tmp_path: Path, content: str, fragment: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(TaskDataError) as err:
        get_task_family("gsm8k", source=str(path)).load_items(2)
    assert fragment in str(err.value)


def test_gsm8k_missing_file_and_bad_count(tmp_path: Path) -> None:
    with pytest.raises(TaskDataError, match="does not exist"):
        get_task_family("gsm8k", source=str(tmp_path / "nope.jsonl")).load_items(2)
    with pytest.raises(TaskDataError, match="positive number"):
        get_task_family("gsm8k", source=GENERATED_SOURCE).load_items(0)


def test_gsm8k_generated_offline() -> None:
    task = get_task_family("gsm8k", source=GENERATED_SOURCE)
    items = task.load_items(3, seed=7)
    assert len(items) == 3 and all(i.question and float(i.answer) == float(i.answer) for i in items)
    assert items == task.load_items(3, seed=7)
    assert task.score(reply(items[0].answer), items[0]).components["correctness"] == 2.0


def test_gsm8k_hub_default_is_never_fetched_offline(tmp_path: Path) -> None:
    """The hub name stays the default, and with HF_HUB_OFFLINE=1 and an empty cache it fails at once."""
    assert DEFAULT_SOURCE == "openai/gsm8k"
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "HF_HOME": str(tmp_path / "hf"),
        "RLSWARM_HOME": str(tmp_path),
    }
    code = (
        "from rlswarm_core.training.tasks import get_task_family, TaskDataError\n"
        "try:\n    get_task_family('gsm8k').load_items(2)\n"
        "except TaskDataError as e:\n    print(e)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert "openai/gsm8k is not in the local cache and HF_HUB_OFFLINE=1" in done.stdout, done.stderr
    assert "gsm_symbolic" in done.stdout


def test_gsm8k_final_answer() -> None:
    assert gsm8k_final_answer("a\n#### 1,000") == "1000"
    assert gsm8k_final_answer(12) == "12"
    assert gsm8k_final_answer(None) == ""


def test_reasoning_gym_family() -> None:
    task = get_task_family("reasoning-gym", datasets={"chain_sum": 1.0, "basic_arithmetic": 2.0})
    assert task.stages == ("solve",)
    items = task.load_items(6, seed=3)
    assert len(items) == 6 and {i.source for i in items} <= {"chain_sum", "basic_arithmetic"}
    assert [i.question for i in items] == [i.question for i in task.load_items(6, seed=3)]
    item = items[0]
    assert task.score(reply(item.answer), item).total == 1.0
    assert task.score(reply("definitely wrong"), item).total == 0.0
    assert task.score("no tags " + item.answer, item).total == 0.0
    assert task.score(None, item).total == 0.0
    assert "<answer>" in task.messages(item)[0]["content"]
    assert score_with_reasoning_gym(reply("1"), TaskItem("q", "1")) == 0.0  # no generator record
    assert score_with_reasoning_gym(reply("1"), TaskItem("q", "1", entry={"metadata": "junk"})) == 0.0
    default = get_task_family("reasoning-gym").load_items(4, seed=0)
    assert len(default) == 4


def test_reasoning_gym_dataset_options() -> None:
    easy = {"chain_sum": {"min_terms": 2, "max_terms": 2, "min_digits": 1, "max_digits": 1}}
    task = get_task_family("reasoning-gym", datasets=["chain_sum"], configs=easy)
    for item in task.load_items(5, seed=1):
        assert item.entry is not None and item.entry["metadata"]["num_terms"] == 2
        assert task.score(reply(item.answer), item).total == 1.0
    with pytest.raises(TaskDataError, match="rejects its options"):
        bogus = {"chain_sum": {"bogus": 1}}
        get_task_family("reasoning-gym", datasets=["chain_sum"], configs=bogus).load_items(1)


def test_reasoning_gym_bad_options() -> None:
    with pytest.raises(TaskDataError, match="unknown reasoning-gym dataset"):
        get_task_family("reasoning-gym", datasets=["no_such_task"]).load_items(1)
    with pytest.raises(TaskDataError, match="positive weights"):
        get_task_family("reasoning-gym", datasets={"chain_sum": 0})
    with pytest.raises(ConfigError, match="unknown task family"):
        get_task_family("chess")


def rollouts(peer: str, n: int, start: int = 0) -> list[Rollout]:
    return [Rollout(peer, TaskItem(f"q{peer}{i}", str(i)), (reply(str(i)),)) for i in range(start, start + n)]


def test_mix_rollouts_takes_i_local_and_j_swarm() -> None:
    local = rollouts("me", 6)
    swarm = rollouts("a", 4) + rollouts("b", 4) + rollouts("me", 2, start=10)
    batch = mix_rollouts(local, swarm, local_count=2, swarm_count=3, seed=5, own_peer="me")
    assert batch[:2] == local[:2]
    assert len(batch) == 5
    assert all(r.peer in {"a", "b"} for r in batch[2:])
    assert batch == mix_rollouts(local, swarm, 2, 3, seed=5, own_peer="me")
    others = {
        tuple(r.item.question for r in mix_rollouts(local, swarm, 2, 3, seed=s, own_peer="me"))
        for s in range(8)
    }
    assert len(others) > 1  # the seed matters


def test_mix_rollouts_edge_cases() -> None:
    local = rollouts("me", 4)
    # Too few swarm rollouts: topped up from local so the batch keeps its size.
    batch = mix_rollouts(local, rollouts("a", 1), local_count=2, swarm_count=2, seed=0)
    assert [r.peer for r in batch] == ["me", "me", "a", "me"]
    # Duplicated questions and junk are skipped.
    dup = [Rollout("a", local[0].item), "junk"]  # type: ignore[list-item]
    assert mix_rollouts(local, dup, 1, 1) == local[:2]
    assert mix_rollouts(local, rollouts("a", 3), 0, 2, seed=1)[0].peer == "a"
    assert mix_rollouts([], [], 0, 0) == []
    for bad in (-1, 1.5, True):
        with pytest.raises(ConfigError):
            mix_rollouts(local, [], bad, 0)  # type: ignore[arg-type]


def test_rollout_records_round_trip_and_reject_junk() -> None:
    original = Rollout("peerA", TaskItem("q?", "4", entry={"answer": "4", "metadata": {}}), ("r1", "r2"))
    again = rollout_from_record("peerA", rollout_record(original))
    assert again == original and again is not None and again.item.entry == {"answer": "4", "metadata": {}}
    for bad in (
        None,
        "x",
        {"question": ""},
        {"question": "q", "answer": None},
        {"question": "q", "answer": "1", "completions": [1]},
        {"question": "q" * 100_000, "answer": "1"},
        {"question": "q", "answer": True},
    ):
        assert rollout_from_record("peerA", bad) is None
    assert rollout_from_record("", rollout_record(original)) is None
    grouped = group_swarm_rollouts(
        {"b": [rollout_record(original), "junk"], "a": [rollout_record(original)], "c": "junk"}
    )
    assert [r.peer for r in grouped] == ["a", "b"]
