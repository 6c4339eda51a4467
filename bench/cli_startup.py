"""Median wall time of ``rlswarm --help`` beside ``hf --help`` (the huggingface_hub CLI), same run.

Usage: python bench/cli_startup.py [--runs N]. Both commands run from this interpreter's environment;
the ratio is what the README quotes (goal: <= 0.5).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path


def _command(name: str) -> list[str]:
    bin_dir = Path(sys.executable).parent
    found = shutil.which(name, path=str(bin_dir)) or shutil.which(name)
    if found is None:
        raise SystemExit(f"{name} is not installed in this environment")
    return [found, "--help"]


def median_seconds(cmd: list[str], runs: int) -> float:
    env = {**os.environ, "NO_COLOR": "1", "HF_HUB_DISABLE_TELEMETRY": "1"}
    subprocess.run(cmd, capture_output=True, env=env, check=True)  # warm the page cache once
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, capture_output=True, env=env, check=True)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    ours = median_seconds(_command("rlswarm"), args.runs)
    theirs = median_seconds(_command("hf"), args.runs)
    result = {
        "rlswarm_help_s": round(ours, 4),
        "hf_help_s": round(theirs, 4),
        "ratio": round(ours / theirs, 3),
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(f"rlswarm --help  median {ours * 1000:7.1f} ms over {args.runs} runs")
        print(f"hf --help       median {theirs * 1000:7.1f} ms over {args.runs} runs")
        print(f"ratio           {result['ratio']:.3f}x (goal <= 0.5x)")


if __name__ == "__main__":
    main()
