"""Median wall time of ``rlswarm --help`` beside a bare ``import typer.main`` and ``hf --help``, same run.

Usage: python bench/cli_startup.py [--runs N] [--json]. Every command runs from this interpreter's
environment, interleaved run by run so that a busy machine slows them alike. Two ratios are printed:
``rlswarm --help`` over the bare Typer import (the floor any Typer CLI pays; goal <= 1.3) and over the
huggingface_hub CLI's ``hf --help`` (goal <= 0.5; skipped when hf is not installed).
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

TYPER_GOAL = 1.3
HF_GOAL = 0.5


def _hf_command() -> list[str] | None:
    bin_dir = Path(sys.executable).parent
    found = shutil.which("hf", path=str(bin_dir)) or shutil.which("hf")
    return [found, "--help"] if found else None


def medians(commands: dict[str, list[str]], runs: int) -> dict[str, float]:
    env = {**os.environ, "NO_COLOR": "1", "HF_HUB_DISABLE_TELEMETRY": "1"}
    for cmd in commands.values():
        subprocess.run(cmd, capture_output=True, env=env, check=True)  # warm the page cache once
    samples: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(runs):
        for name, cmd in commands.items():
            start = time.perf_counter()
            subprocess.run(cmd, capture_output=True, env=env, check=True)
            samples[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in samples.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    commands = {
        "rlswarm --help": [sys.executable, "-m", "rlswarm_cli.main", "--help"],
        "import typer.main": [sys.executable, "-c", "import typer.main"],
    }
    hf = _hf_command()
    if hf is not None:
        commands["hf --help"] = hf
    times = medians(commands, args.runs)
    ours = times["rlswarm --help"]
    result: dict[str, float | None] = {
        "rlswarm_help_s": round(ours, 4),
        "typer_import_s": round(times["import typer.main"], 4),
        "ratio_to_typer": round(ours / times["import typer.main"], 3),
        "hf_help_s": round(times["hf --help"], 4) if hf else None,
        "ratio_to_hf": round(ours / times["hf --help"], 3) if hf else None,
    }
    if args.json:
        print(json.dumps(result))
        return
    for name, seconds in times.items():
        print(f"{name:<18} median {seconds * 1000:7.1f} ms over {args.runs} runs")
    print(f"ratio to typer     {result['ratio_to_typer']:.3f}x (goal <= {TYPER_GOAL}x)")
    if hf:
        print(f"ratio to hf        {result['ratio_to_hf']:.3f}x (goal <= {HF_GOAL}x)")


if __name__ == "__main__":
    main()
