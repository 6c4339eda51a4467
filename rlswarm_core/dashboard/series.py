"""Reward history as chart series: reward per stage for each instance, and cumulative rewards over time.

Charts want one shared, ascending x axis; the cumulative view is therefore aligned here on the union of
every instance's stage timestamps, each series carried forward between its own points.
"""

from __future__ import annotations

from typing import Any

from rlswarm_core.rewards.view import Rewards

DEFAULT_POINTS = 500


def instance_series(summary: Rewards, limit: int = DEFAULT_POINTS) -> dict[str, Any]:
    stages = summary.stages[-limit:] if limit > 0 else summary.stages
    skipped = summary.stages[: len(summary.stages) - len(stages)]
    return {
        "name": summary.name,
        "peer_id": summary.peer_id,
        "animal_name": summary.animal_name,
        "total": summary.total,
        "points": [{"round": s.round, "stage": s.stage, "reward": s.reward, "at": s.at} for s in stages],
        # the cumulative line starts from what came before the window, so its end is the true total
        "offset": round(sum(s.reward for s in skipped), 6),
    }


def cumulative(series: list[dict[str, Any]]) -> dict[str, Any]:
    """``{"t": [...], "series": {name: [...], "total": [...]}}`` on the union of all timestamps."""
    times = sorted({p["at"] for item in series for p in item["points"]})
    out: dict[str, list[float | None]] = {}
    totals = [0.0] * len(times)
    index = {t: i for i, t in enumerate(times)}
    for item in series:
        values: list[float | None] = [None] * len(times)
        running = float(item.get("offset") or 0.0)
        last = -1
        for point in item["points"]:
            running += float(point["reward"])
            i = index[point["at"]]
            # between its own stages a node's cumulative reward stays where it was
            for j in range(last + 1, i):
                values[j] = values[last] if last >= 0 else None
            values[i] = round(running, 6)
            last = i
        for j in range(last + 1, len(times)):
            values[j] = values[last] if last >= 0 else None
        out[item["name"]] = values
        for j, value in enumerate(values):
            totals[j] += value or 0.0
    out["total"] = [round(v, 6) for v in totals]
    return {"t": times, "series": out}


def rewards_payload(summaries: list[Rewards], limit: int = DEFAULT_POINTS) -> dict[str, Any]:
    series = [instance_series(s, limit) for s in summaries]
    return {
        "instances": series,
        "cumulative": cumulative(series),
        "total": round(sum(s.total for s in summaries), 6),
    }
