"""``rewards --plot``: pick the one node to chart and hand its history to the core's plotter."""

from __future__ import annotations

from typing import Any

import typer


def plot_text(data: dict[str, Any]) -> str:
    """One node's reward per round as a terminal chart, from ``rewards``' data."""
    from rlswarm_core.rewards.plot import reward_plot
    from rlswarm_core.rewards.view import Rewards, StageReward

    nodes = data["nodes"]
    if len(nodes) != 1:
        names = ", ".join(n["name"] for n in nodes) or "none"
        raise typer.BadParameter(
            f"--plot charts one node; choose it with --instance (local instances: {names})",
            param_hint="--plot",
        )
    node = nodes[0]
    result = Rewards(name=node["name"], animal_name=node["animal_name"], total=node["total"])
    result.stages = [StageReward(s["round"], s["stage"], s["reward"], s["at"]) for s in node["stages"]]
    return reward_plot(result)
