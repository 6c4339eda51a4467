"""Ctrl-C typed into a real terminal running ``rlswarm join``: SIGINT reaches the terminal's whole
foreground process group, so this is the fault an operator causes, not a signal to one pid.

Ten runs, each pressing at one moment of a node's life (start-up, mid-step, between stages, while the
round's checkpoint is written): every one stops within 10 s with one line and no traceback and leaves no
process behind. A second Ctrl-C forces the stop within 3 s.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.node.terminal import NOISE, TerminalJoin

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed (apt-get install tmux)"),
]

ARGS = ["--profile", "local-tiny", "--host", "127.0.0.1", "--port", "0"]
START_TIMEOUT_S = 240.0
CLEAN_STOP_S = 10.0
FORCED_STOP_S = 3.0


def _starting(term: TerminalJoin) -> None:
    # the node is importing its libraries and loading the model: no DHT yet
    term.wait_screen("joining as coordinator", START_TIMEOUT_S)


def _mid_step(term: TerminalJoin) -> None:
    # a stage has two steps: after the first, the second is under way
    term.wait_event(lambda e: e["kind"] == "StepDone" and e["step"] == 1, START_TIMEOUT_S)


def _between_stages(term: TerminalJoin) -> None:
    # publishing the stage, gathering peers, moving the clock
    term.wait_event(lambda e: e["kind"] == "StageFinished", START_TIMEOUT_S)


def _writing_checkpoint(term: TerminalJoin) -> None:
    # the round's checkpoint is written right after the round is scored
    term.wait_event(lambda e: e["kind"] == "RoundFinished", START_TIMEOUT_S)


MOMENTS: dict[str, Callable[[TerminalJoin], None]] = {
    "start-up": _starting,
    "mid-step": _mid_step,
    "between-stages": _between_stages,
    "checkpoint-write": _writing_checkpoint,
}
RUNS = [*MOMENTS, *MOMENTS, "mid-step", "between-stages"]


@pytest.fixture
def terminal(tmp_path: Path) -> Iterator[Any]:
    made: list[TerminalJoin] = []

    def make(*extra: str) -> TerminalJoin:
        term = TerminalJoin(tmp_path / "home", [*ARGS, *extra])
        made.append(term)
        return term

    yield make
    for term in made:
        term.close()


@pytest.mark.parametrize("moment", [pytest.param(m, id=f"{i}-{m}") for i, m in enumerate(RUNS)])
def test_one_ctrl_c_stops_cleanly(terminal: Any, moment: str) -> None:
    term = terminal()
    MOMENTS[moment](term)
    pressed = term.press_ctrl_c()
    code, seen = term.wait_exit(timeout=60)
    shown = term.screen()
    assert code == 0, shown
    assert seen - pressed < CLEAN_STOP_S, f"took {seen - pressed:.1f} s; screen:\n{shown}"
    assert shown.count("stopping after the current step") == 1, shown
    assert "stopped (" in shown, shown
    assert not [noise for noise in NOISE if noise in shown], shown
    assert not term.leftovers(timeout=10), f"left behind: {term.leftovers(0)}"


def test_second_ctrl_c_forces_the_stop(terminal: Any) -> None:
    term = terminal()
    _mid_step(term)
    term.press_ctrl_c()
    term.wait_screen("stopping after the current step", 10)
    pressed = term.press_ctrl_c()
    code, seen = term.wait_exit(timeout=30)
    shown = term.screen()
    assert code == 130, shown
    assert seen - pressed < FORCED_STOP_S, f"took {seen - pressed:.1f} s; screen:\n{shown}"
    assert "error: interrupted" in shown
    assert not [noise for noise in NOISE if noise in shown], shown
    assert not term.leftovers(timeout=10), f"left behind: {term.leftovers(0)}"
