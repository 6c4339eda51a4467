"""Programming problems with tests, normalised from the shapes they come in.

Four row shapes are read (detected by their fields):

- HumanEval (``prompt``, ``test`` with ``def check(candidate)``, ``entry_point``): each statement of
  ``check`` that asserts something is one test; the statements between them are its set-up.
- MBPP (``text`` or ``prompt``, ``test_list``, ``test_setup_code``/``test_imports``): one test per assert.
- code_contests (``description``, ``public_tests``/``private_tests``/``generated_tests`` as
  ``{"input": [...], "output": [...]}``): standard input/output tests.
- rlswarm's own (``question``, and ``tests`` as a list of assert statements or ``io_tests`` as a list of
  ``{"input", "output"}``, optional ``setup``): for local JSONL files.
"""

from __future__ import annotations

import ast
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from rlswarm_core.sandbox.limits import TestJob
from rlswarm_core.training.errors import TaskDataError

# the most tests one problem keeps (code_contests has hundreds); every reply runs them all
MAX_TESTS = 16
# a standard-input test larger than this is left out: it costs more to ship than it tells
MAX_IO_CHARS = 64 * 1024
# prompts longer than this cannot be shared with peers (the swarm's record limit) and are skipped
MAX_PROMPT_CHARS = 12_000

STDIO_NOTE = "Read the input from standard input and write the answer to standard output."


@dataclass(frozen=True)
class CodeProblem:
    task_id: str
    prompt: str
    kind: Literal["assert", "stdio"]
    tests: tuple[dict[str, str], ...]
    preamble: str = ""
    setup: str = ""
    shape: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict, compare=False)

    def job(self, solution: str) -> TestJob:
        return TestJob(
            solution=solution, tests=self.tests, kind=self.kind, preamble=self.preamble, setup=self.setup
        )


def _text(row: Mapping[str, Any], *names: str) -> str:
    for name in names:
        value = row.get(name)
        if isinstance(value, str) and value.strip():
            return value
    return ""


def _task_id(row: Mapping[str, Any], prompt: str) -> str:
    for name in ("task_id", "name", "id"):
        value = row.get(name)
        if isinstance(value, (str, int)) and not isinstance(value, bool) and str(value).strip():
            return str(value).strip()
    return hashlib.md5(prompt.encode("utf-8")).hexdigest()[:16]


def _has_assert(node: ast.AST) -> bool:
    return any(isinstance(n, ast.Assert) for n in ast.walk(node))


def split_check(test_source: str, entry_point: str) -> tuple[str, list[dict[str, str]]]:
    """HumanEval's ``check(candidate)`` as (set-up, tests): module-level code and ``candidate = f`` are
    the set-up; each asserting statement of ``check`` is a test, preceded by the non-asserting
    statements before it."""
    module = ast.parse(test_source)
    check = next((n for n in module.body if isinstance(n, ast.FunctionDef) and n.name == "check"), None)
    if check is None or not check.args.args:
        return test_source, [{"code": f"check({entry_point})"}]
    others = [ast.unparse(n) for n in module.body if n is not check]
    argument = check.args.args[0].arg
    setup = "\n".join([*others, f"{argument} = {entry_point}"])
    tests: list[dict[str, str]] = []
    before: list[str] = []
    for statement in check.body:
        if isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant):
            continue  # a docstring
        if isinstance(statement, ast.Assert) and isinstance(statement.test, ast.Constant):
            continue  # `assert True`: passes whatever the code does, so it is no test
        if _has_assert(statement):
            tests.append({"pre": "\n".join(before), "code": ast.unparse(statement)})
        else:
            before.append(ast.unparse(statement))
    if not tests:
        return test_source, [{"code": f"check({entry_point})"}]
    return setup, tests


def _human_eval(row: Mapping[str, Any]) -> CodeProblem:
    code, entry = _text(row, "prompt"), _text(row, "entry_point").strip()
    setup, tests = split_check(_text(row, "test"), entry)
    prompt = (
        f"Complete the Python function `{entry}`. Write the whole function, with any imports it needs.\n\n"
        f"```python\n{code.rstrip()}\n```"
    )
    return CodeProblem(
        _task_id(row, code), prompt, "assert", tuple(tests), preamble=code, setup=setup, shape="humaneval"
    )


def _mbpp(row: Mapping[str, Any]) -> CodeProblem:
    statement = _text(row, "text", "prompt")
    asserts = [t for t in row.get("test_list") or [] if isinstance(t, str) and t.strip()]
    imports = row.get("test_imports") or []
    setup = "\n".join([*(i for i in imports if isinstance(i, str)), _text(row, "test_setup_code")])
    # the first test shows the function's name and signature; the others stay hidden
    prompt = f"{statement.strip()}\nYour code should pass this test:\n{asserts[0]}" if asserts else statement
    return CodeProblem(
        _task_id(row, statement),
        prompt,
        "assert",
        tuple({"code": t} for t in asserts),
        setup=setup,
        shape="mbpp",
    )


def _io_pairs(block: object) -> list[dict[str, str]]:
    if not isinstance(block, Mapping):
        return []
    inputs, outputs = block.get("input") or [], block.get("output") or []
    pairs = []
    for given, expected in zip(inputs, outputs, strict=False):
        if (
            isinstance(given, str)
            and isinstance(expected, str)
            and len(given) + len(expected) <= MAX_IO_CHARS
        ):
            pairs.append({"input": given, "output": expected})
    return pairs


def _code_contests(row: Mapping[str, Any]) -> CodeProblem:
    statement = _text(row, "description")
    tests = [
        t for name in ("public_tests", "private_tests", "generated_tests") for t in _io_pairs(row.get(name))
    ]
    prompt = f"{statement.strip()}\n\n{STDIO_NOTE}"
    return CodeProblem(_task_id(row, statement), prompt, "stdio", tuple(tests), shape="code_contests")


def _own(row: Mapping[str, Any]) -> CodeProblem:
    question = _text(row, "question", "prompt")
    if "io_tests" in row:
        pairs = row.get("io_tests")
        tests = [
            {"input": str(t.get("input", "")), "output": str(t.get("output", ""))}
            for t in (pairs if isinstance(pairs, list) else [])
            if isinstance(t, Mapping)
        ]
        return CodeProblem(
            _task_id(row, question),
            f"{question.strip()}\n\n{STDIO_NOTE}",
            "stdio",
            tuple(tests),
            shape="rlswarm",
        )
    raw = row.get("tests")
    asserts = [t for t in (raw if isinstance(raw, list) else []) if isinstance(t, str) and t.strip()]
    return CodeProblem(
        _task_id(row, question),
        question.strip(),
        "assert",
        tuple({"code": t} for t in asserts),
        setup=_text(row, "setup"),
        shape="rlswarm",
    )


def problem_from_row(row: object, where: str) -> CodeProblem:
    """One problem from a row of any known shape; a TaskDataError naming ``where`` otherwise."""
    if not isinstance(row, Mapping):
        raise TaskDataError(f"{where}: not an object")
    if "test" in row and "entry_point" in row:
        make = _human_eval
    elif "test_list" in row:
        make = _mbpp
    elif "description" in row and any(k in row for k in ("public_tests", "private_tests", "generated_tests")):
        make = _code_contests
    elif "tests" in row or "io_tests" in row:
        make = _own
    else:
        raise TaskDataError(
            f"{where}: not a programming problem with tests",
            'each row needs e.g. {"question": "...", "tests": ["assert f(1) == 2"]}',
        )
    try:
        problem = make(row)
    except SyntaxError:
        raise TaskDataError(f"{where}: its test code is not valid Python") from None
    if not problem.prompt.strip() or not problem.tests:
        raise TaskDataError(f"{where}: needs a problem statement and at least one test")
    return replace(problem, tests=problem.tests[:MAX_TESTS])
