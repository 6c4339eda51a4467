"""How long ``rlswarm join`` takes to stop after a Ctrl-C typed into a real terminal (tmux), by moment.

Usage: python bench/stop_latency.py [--runs N] [--moments M ...]. For each moment (start-up, mid-step,
between stages, while the round's checkpoint is written) it starts a ``local-tiny`` node in a fresh
tmux pane, types Ctrl-C there and measures the time until the command has exited; "forced" types a
second Ctrl-C once the first one's notice is on the screen. Prints one JSON object: seconds per moment
(median, max) and the exit codes seen.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.node.terminal import TerminalJoin

ARGS = ["--profile", "local-tiny", "--host", "127.0.0.1", "--port", "0"]
START_S = 300.0
MOMENTS = ("start-up", "mid-step", "between-stages", "checkpoint-write", "forced")


def _until(term: TerminalJoin, moment: str) -> None:
    if moment == "start-up":
        term.wait_screen("joining as", START_S)
        return
    kinds = {"mid-step": "StepDone", "between-stages": "StageFinished", "checkpoint-write": "RoundFinished"}
    if moment == "forced":
        kinds["forced"] = "StepDone"
    term.wait_event(lambda e: e["kind"] == kinds[moment], START_S)


def one_run(moment: str) -> tuple[float, int]:
    with tempfile.TemporaryDirectory() as home:
        term = TerminalJoin(Path(home) / "home", ARGS)
        try:
            _until(term, moment)
            pressed = term.press_ctrl_c()
            if moment == "forced":
                term.wait_screen("stopping after the current step", 30)
                pressed = term.press_ctrl_c()
            code, seen = term.wait_exit(120)
            if term.leftovers(timeout=10):
                raise SystemExit(f"{moment}: processes left behind")
            return seen - pressed, code
        finally:
            term.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--moments", nargs="+", default=list(MOMENTS), choices=MOMENTS)
    args = parser.parse_args()
    results = {}
    for moment in args.moments:
        samples = [one_run(moment) for _ in range(args.runs)]
        seconds = [s for s, _ in samples]
        results[moment] = {
            "median_s": round(statistics.median(seconds), 2),
            "max_s": round(max(seconds), 2),
            "exit_codes": sorted({code for _, code in samples}),
        }
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
