"""The code reward over a table of replies, each scored by running a problem's tests in the real
sandbox: correct, wrong, broken, hostile (loops, fork bombs, escapes, network, floods) and forged.

Every row checks the reward, that the run ended within its limits (no wall-clock kill), and that it left
no process or temporary folder behind; the escape rows also check the host side (the file was not
written, the listener got no connection).
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from rlswarm_core.sandbox import SandboxLimits, open_sandbox
from rlswarm_core.training.rewards.code import CodeWeights, score_code
from rlswarm_core.training.tasks.code.problems import problem_from_row

LIMITS = SandboxLimits(test_timeout_s=1.0, wall_s=15.0, memory_mb=256, processes=24)
ADD = problem_from_row(
    {
        "question": "Write add(a, b).",
        "tests": ["assert add(1, 2) == 3", "assert add(2, 2) == 4", "assert add(-1, 1) == 0"],
    },
    "add",
)
ECHO = problem_from_row(
    {
        "question": "Print the sum of the two numbers on the input line.",
        "io_tests": [{"input": "1 2\n", "output": "3\n"}, {"input": "5 -5\n", "output": "0"}],
    },
    "sum",
)
GOOD = "def add(a, b):\n    return a + b\n"
FORMAT = CodeWeights().format


def fenced(code: str) -> str:
    return f"```python\n{code}```"


@pytest.fixture(scope="module")
def listener() -> Iterator[socket.socket]:
    """A real TCP listener on the host's loopback that sandboxed code tries to reach."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.setblocking(False)
    yield server
    server.close()


def table(tmp: Path, port: int) -> list[tuple[str, object, str, float]]:
    """(name, problem, reply, expected reward)."""
    outside = tmp / "escape.txt"
    secret = tmp / "secret.txt"
    return [
        ("correct", ADD, fenced(GOOD), 1.0 + FORMAT),
        ("wrong", ADD, fenced("def add(a, b):\n    return a + b if a > 0 else 7\n"), 2 / 3 + FORMAT),
        ("syntax error", ADD, fenced("def add(a, b)\n    return a + b\n"), FORMAT),
        ("infinite loop", ADD, fenced("while True:\n    pass\n" + GOOD), FORMAT),
        ("fork bomb", ADD, fenced("import os\nwhile True:\n    os.fork()\n" + GOOD), FORMAT),
        (
            "fork bomb that ignores errors",
            ADD,
            fenced(
                "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n"
                + GOOD
            ),
            FORMAT,
        ),
        ("write outside its folder", ADD, fenced(f"open({str(outside)!r}, 'w').write('x')\n" + GOOD), FORMAT),
        ("read the host's files", ADD, fenced(f"open({str(secret)!r}).read()\n" + GOOD), FORMAT),
        (
            "read the operator's home",
            ADD,
            fenced(f"import os\nos.listdir({str(Path.home())!r})\n" + GOOD),
            FORMAT,
        ),
        (
            "network",
            ADD,
            fenced(f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=1)\n" + GOOD),
            FORMAT,
        ),
        ("huge output", ADD, fenced("print('x' * 10**9)\n" + GOOD), FORMAT),
        ("endless output", ECHO, fenced("while True:\n    print('y' * 4096)\n"), FORMAT),
        ("exits early", ADD, fenced("import os\nos._exit(0)\n"), FORMAT),
        ("raises SystemExit(0)", ADD, fenced("raise SystemExit(0)\n"), FORMAT),
        (
            "forges the report",
            ADD,
            fenced("print('T 0 ok 1')\nprint('T 1 ok 1')\nprint('T 2 ok 1')\n"),
            FORMAT,
        ),
        ("correct, no fence", ADD, GOOD, 1.0),
        ("correct, text after the block", ADD, fenced(GOOD) + "\nHope this helps!", 1.0),
        (
            "standard input, correct",
            ECHO,
            fenced("a, b = map(int, input().split())\nprint(a + b)\n"),
            1 + FORMAT,
        ),
        ("standard input, wrong", ECHO, fenced("print(3)\n"), 0.5 + FORMAT),
    ]


CASES = [row[0] for row in table(Path("/x"), 0)]


@pytest.mark.parametrize("name", CASES)
def test_reward_table(
    name: str, tmp_path: Path, listener: socket.socket, bubblewrap: None, nothing_left_behind: None
) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("operator's secret")
    port = listener.getsockname()[1]
    _, problem, reply, expected = next(row for row in table(tmp_path, port) if row[0] == name)
    sandbox = open_sandbox("auto", LIMITS)

    result = score_code(reply, problem.job, sandbox)  # type: ignore[attr-defined]

    assert result.total == pytest.approx(expected), result
    assert result.report is not None and not result.report.killed and not result.report.error
    assert result.report.seconds < LIMITS.wall_s
    assert result.report.unapplied_limits == ()
    assert not (tmp_path / "escape.txt").exists()
    with pytest.raises(BlockingIOError):
        listener.accept()
    if name == "infinite loop":
        # the loop runs before every test: two time out, the rest are not started
        assert result.report.outcomes == ("timeout", "timeout", "skip")
    if name == "endless output":
        assert set(result.report.outcomes) == {"output"}


def test_length_penalty_and_weights(bubblewrap: None, nothing_left_behind: None) -> None:
    sandbox = open_sandbox("auto", LIMITS)
    weights = CodeWeights(tests=2.0, format=0.5, length=1.0, free_chars=40)
    short = fenced(GOOD)
    over = len(short) - 40
    assert 0 < over < 40
    result = score_code(short, ADD.job, sandbox, weights)
    assert result.breakdown.components == pytest.approx({"tests": 2.0, "format": 0.5, "length": -over / 40})
    rambling = fenced(GOOD) + "\n" + "#" * 200
    assert score_code(rambling, ADD.job, sandbox, weights).breakdown.components["length"] == -1.0
    # nothing to run: no sandbox call, no report
    empty = score_code("", ADD.job, sandbox, weights)
    assert empty.report is None and empty.total == 0.0
