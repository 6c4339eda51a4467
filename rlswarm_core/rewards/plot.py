"""Reward per round for one node as a terminal chart (text; the CLI decides where it goes)."""

from __future__ import annotations

from rlswarm_core.errors import RlswarmError
from rlswarm_core.rewards.view import Rewards

DEFAULT_WIDTH = 72
DEFAULT_HEIGHT = 14


def stage_positions(result: Rewards) -> list[float]:
    """Each stage's place on a round axis: stage s of round r sits at r + s / stages-per-round."""
    per_round = max((s.stage for s in result.stages), default=0) + 1
    return [s.round + s.stage / per_round for s in result.stages]


def reward_plot(result: Rewards, *, width: int = DEFAULT_WIDTH, height: int = DEFAULT_HEIGHT) -> str:
    """A line chart of ``result``'s reward per stage against the round number."""
    from uniplot import plot_to_string

    if not result.stages:
        raise RlswarmError(
            f"no rewards to plot for {result.name} yet", "wait until it finishes a stage, then try again"
        )
    first, last = result.stages[0].round, result.stages[-1].round
    who = f"{result.name} ({result.animal_name})" if result.animal_name else result.name
    title = f"{who}: reward per stage, rounds {first}-{last}, total {result.total:.3f}"
    xs = stage_positions(result)
    ys = [s.reward for s in result.stages]
    if len(ys) == 1:  # one point draws nothing as a line: show it as a flat segment
        xs, ys = [xs[0], xs[0] + 1], [ys[0], ys[0]]
    return plot_to_string(
        ys, xs=xs, title=title, width=max(20, width), height=max(5, height), color=False, lines=True
    )
