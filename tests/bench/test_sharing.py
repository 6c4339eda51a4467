"""The sharing benchmark's smoke configuration, end to end: 2 agents on a real loopback DHT, the tiny
model, 2 rounds, two mixes, two seeds; then the shape of its result file and chart."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def is_probability(value: object) -> bool:
    return isinstance(value, float) and math.isfinite(value) and 0.0 <= value <= 1.0


@pytest.mark.slow
def test_smoke_benchmark_writes_result_and_chart(tmp_path: Path) -> None:
    out = tmp_path / "out"
    done = subprocess.run(
        [
            sys.executable,
            str(REPO / "bench" / "sharing.py"),
            "--preset",
            "smoke",
            "--out",
            str(out),
            "--cache-dir",
            str(tmp_path / "models"),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "cumulative reward" in done.stdout and "4/0" in done.stdout

    result = json.loads((out / "sharing.json").read_text())
    assert result["benchmark"] == "rollout-sharing" and result["preset"] == "smoke"
    config = result["config"]
    assert (config["agents"], config["rounds"], config["seeds"]) == (2, 2, [0, 1])
    assert config["model"] == "builtin:tiny-qwen2" and config["device_used"] == "cpu"
    assert [m["label"] for m in result["mixes"]] == config["mixes"] == ["4/0", "2/2"]
    for mix in result["mixes"]:
        assert len(mix["per_round"]["mean"]) == len(mix["per_round"]["ci95"]) == 2
        assert all(is_probability(v) for v in mix["per_round"]["mean"])
        assert all(isinstance(h, float) and h >= 0 for h in mix["per_round"]["ci95"])
        cumulative = mix["cumulative"]
        assert cumulative["n"] == 2 and len(cumulative["per_seed"]) == 2
        assert cumulative["mean"] == pytest.approx(sum(cumulative["per_seed"]) / 2)
        assert 0 <= cumulative["mean"] <= 2 and cumulative["ci95"] >= 0
        assert len(mix["seconds"]["per_seed"]) == 2 and mix["seconds"]["total"] > 0
        assert "vs_local_only_percent" in mix
        assert [run["seed"] for run in mix["runs"]] == [0, 1]
        for run in mix["runs"]:
            assert len(run["agents"]) == 2 and run["seconds"] > 0
            peers = {agent["peer"] for agent in run["agents"]}
            assert len(peers) == 2 and all(p.startswith("Qm") for p in peers)
            for agent in run["agents"]:
                assert len(agent["rewards"]) == 2 and all(is_probability(r) for r in agent["rewards"])
                # every agent heard its one peer over the DHT each round
                assert agent["peers_heard"] == [1, 1]
                # round 0 has no swarm pool yet; afterwards the mix takes exactly J of the peer's questions
                # (the peer published its I+J distinct round-0 questions, at most I of them in this
                # agent's own batch, so at least J are left to draw from)
                assert agent["swarm_used"] == [0, mix["swarm"]]

    from PIL import Image

    with Image.open(out / "sharing.png") as image:
        assert image.format == "PNG"
        assert image.width >= 800 and image.height >= 300
        rgb = image.convert("RGB")
        colours = rgb.getcolors(maxcolors=1 << 20)
    assert colours is not None
    # a drawn chart: a white background plus axes, text and two coloured series, not a blank canvas
    assert len(colours) > 50
    background = max(colours)[0] / (image.width * image.height)
    assert background < 0.97
