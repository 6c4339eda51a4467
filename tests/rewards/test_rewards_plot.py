"""``rewards --plot``: one node's reward per round drawn in the terminal, from its real journal."""

from __future__ import annotations

import os

from tests.helpers import Cli, heavy_imports_of
from tests.rewards.journals import write_journal


def test_plot_draws_one_instance(cli: Cli) -> None:
    rewards = {(r, s): float(r) for r in range(5) for s in range(3)}
    write_journal("node-1", 5, rewards=rewards)
    done = cli("rewards", "--plot", "--instance", "node-1")
    assert done.exit_code == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].strip() == "node-1 (a b c): reward per stage, rounds 0-4, total 30.000"
    assert lines[1].startswith("┌") and any(line.startswith("└") for line in lines)
    # the chart rises from 0 to 4: its top row is labelled with the high end of the axis
    assert any(line.rstrip().endswith(" 4") for line in lines)
    assert any(ch in done.stdout for ch in "▘▝▀▄▖▗▞▚")


def test_plot_needs_exactly_one_node(cli: Cli) -> None:
    write_journal("node-1", 1)
    write_journal("node-2", 1)
    done = cli("rewards", "--plot")
    assert done.exit_code == 2
    assert (
        "--plot charts one node; choose it with --instance (local instances: node-1, node-2)" in done.stderr
    )


def test_plot_without_rewards_yet_is_one_line(cli: Cli) -> None:
    write_journal("node-1", 0)
    done = cli("rewards", "--plot", "-i", "node-1")
    assert done.exit_code == 1 and "no rewards to plot for node-1 yet" in done.stderr


def test_plot_imports_no_heavy_library() -> None:
    write_journal("node-1", 2)
    assert (
        heavy_imports_of(
            "rewards", "--plot", "-i", "node-1", env={"RLSWARM_HOME": os.environ["RLSWARM_HOME"]}
        )
        == []
    )
