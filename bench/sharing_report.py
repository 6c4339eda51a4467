"""Summaries of the sharing benchmark: rewards per mix with 95% confidence intervals over seeds, the
result document, the chart and the table printed at the end."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def mean_ci(values: Sequence[float], level: float = 0.95) -> dict[str, Any]:
    """Mean and the half-width of its Student-t confidence interval (None with fewer than 2 values)."""
    values = [float(v) for v in values]
    mean = statistics.fmean(values) if values else float("nan")
    if len(values) < 2:
        return {"mean": mean, "ci95": None, "n": len(values)}
    from scipy import stats

    sd = statistics.stdev(values)
    half = float(stats.t.ppf(0.5 + level / 2, len(values) - 1)) * sd / math.sqrt(len(values))
    return {"mean": mean, "ci95": half, "n": len(values)}


def swarm_mean_per_round(run: dict[str, Any]) -> list[float]:
    """The agents' mean reward in each round of one run (one seed)."""
    per_agent = [a["rewards"] for a in run["agents"]]
    return [statistics.fmean(column) for column in zip(*per_agent, strict=True)]


def summarise_mix(local: int, swarm: int, runs: list[dict[str, Any]]) -> dict[str, Any]:
    runs = sorted(runs, key=lambda r: r["seed"])
    curves = [swarm_mean_per_round(r) for r in runs]
    rounds = len(curves[0]) if curves else 0
    per_round = [mean_ci([c[i] for c in curves]) for i in range(rounds)]
    cumulative = [sum(c) for c in curves]
    return {
        "label": f"{local}/{swarm}",
        "local": local,
        "swarm": swarm,
        "per_round": {
            "mean": [p["mean"] for p in per_round],
            "ci95": [p["ci95"] for p in per_round],
        },
        "cumulative": {**mean_ci(cumulative), "per_seed": cumulative},
        "seconds": {"total": sum(r["seconds"] for r in runs), "per_seed": [r["seconds"] for r in runs]},
        "runs": runs,
    }


def add_baseline_gain(mixes: list[dict[str, Any]]) -> None:
    """Each mix's cumulative reward relative to the all-local mix (the paper's comparison), in percent;
    None when there is no all-local mix or its reward is zero."""
    base = next((m for m in mixes if m["swarm"] == 0), None)
    base_value = base["cumulative"]["mean"] if base is not None else 0.0
    for mix in mixes:
        value = mix["cumulative"]["mean"]
        mix["vs_local_only_percent"] = (
            100.0 * (value - base_value) / base_value if base is not None and base_value > 0 else None
        )


def plot(result: dict[str, Any], path: Path) -> None:
    """Per-round reward (mean and 95% band over seeds) and cumulative reward per mix, as one PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    mixes = result["mixes"]
    config = result["config"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2), dpi=100)
    for mix in mixes:
        means = mix["per_round"]["mean"]
        rounds = list(range(1, len(means) + 1))
        (line,) = left.plot(rounds, means, marker="o", markersize=3, label=f"{mix['label']} (local/swarm)")
        halves = mix["per_round"]["ci95"]
        if all(h is not None for h in halves):
            low = [m - h for m, h in zip(means, halves, strict=True)]
            high = [m + h for m, h in zip(means, halves, strict=True)]
            left.fill_between(rounds, low, high, color=line.get_color(), alpha=0.15)
    left.xaxis.set_major_locator(MaxNLocator(integer=True))
    left.set_xlabel("round")
    left.set_ylabel("mean reward per completion")
    left.set_title("reward per round (band: 95% CI over seeds)")
    left.legend(fontsize=8)
    left.grid(alpha=0.3)

    labels = [m["label"] for m in mixes]
    values = [m["cumulative"]["mean"] for m in mixes]
    errors = [m["cumulative"]["ci95"] or 0.0 for m in mixes]
    bars = right.bar(labels, values, yerr=errors, capsize=4, color="#4c72b0")
    for bar, mix in zip(bars, mixes, strict=True):
        right.annotate(
            f"{mix['seconds']['total']:.0f} s",
            (bar.get_x() + bar.get_width() / 2, bar.get_height()),
            ha="center",
            va="bottom",
            fontsize=8,
            xytext=(0, 3),
            textcoords="offset points",
        )
    right.set_xlabel("rollouts per batch, local/swarm")
    right.set_ylabel("cumulative reward (sum of round means)")
    right.set_title("cumulative reward (error bar: 95% CI; label: time)")
    right.grid(axis="y", alpha=0.3)
    fig.suptitle(
        f"rollout sharing: {config['agents']} agents, {config['model']}, {config['rounds']} rounds, "
        f"{len(config['seeds'])} seed{'s' if len(config['seeds']) != 1 else ''}",
        fontsize=10,
    )
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def table(result: dict[str, Any]) -> str:
    """The text summary printed at the end of a run."""

    def fmt(stat: dict[str, Any]) -> str:
        half = stat["ci95"]
        return f"{stat['mean']:.3f}" + (f" ± {half:.3f}" if half is not None else "")

    lines = [f"{'mix':>6}  {'cumulative reward':>22}  {'last round':>16}  {'vs 0 swarm':>10}  {'time':>8}"]
    for mix in result["mixes"]:
        last = {"mean": mix["per_round"]["mean"][-1], "ci95": mix["per_round"]["ci95"][-1]}
        gain = mix.get("vs_local_only_percent")
        lines.append(
            f"{mix['label']:>6}  {fmt(mix['cumulative']):>22}  {fmt(last):>16}  "
            f"{'' if gain is None else f'{gain:+.0f}%':>10}  {mix['seconds']['total']:>7.0f}s"
        )
    return "\n".join(lines)
