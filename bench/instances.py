"""Total rollouts per second with 1, 2 and 3 supervised ``local-tiny`` instances on this machine.

Usage: python bench/instances.py [--counts 1,2,3] [--window S] [--repeat R] [--json]. For each count, a
fresh RLSWARM_HOME gets that many instances (``instances add`` budgets: threads and memory per instance),
they are started under their supervisors, and after every node has finished a stage the journals'
StepDone events inside a ``window``-second span are counted: completions per second = batch_size ×
steps / s, summed over instances. With ``--repeat R`` the whole sequence of counts runs R times,
interleaved, so that a slow spell of a shared machine does not land on one count only; each count
reports its median. Reported with the ratio to one instance and the planner's recommended N.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def free_base(count: int) -> int:
    for _ in range(100):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            base = probe.getsockname()[1]
        from rlswarm_core.instances.planner import port_is_free

        if base + count < 65000 and all(port_is_free(p) for p in range(base, base + count)):
            return base
    raise SystemExit("no free ports")


def run_count(count: int, window: float, warmup_timeout: float, joined: bool = True) -> dict[str, Any]:
    from rlswarm_core.instances import planner, registry, supervisor
    from rlswarm_core.node.journal import read_journal
    from rlswarm_core.settings import profiles
    from rlswarm_core.system import hardware

    with tempfile.TemporaryDirectory(prefix="rlswarm-bench-") as tmp:
        if os.environ.get("BENCH_KEEP"):
            tmp = os.environ["BENCH_KEEP"]
        os.environ["RLSWARM_HOME"] = tmp
        hw = hardware.detect()
        values = profiles.get_profile("local-tiny").values_for(hw.memory_gb)
        plan = planner.plan(hw, values, count)
        base = free_base(count)
        coordinator = None
        names = []
        for index in range(count):
            record = registry.create(
                f"node-{index + 1}",
                profile="local-tiny",
                port=base + index,
                threads=plan.threads,
                memory_budget_gb=plan.memory_budget_gb,
                host="127.0.0.1",
                coordinator=coordinator,
            )
            if joined:
                # one local swarm: the first instance keeps the clock and the others follow it in step
                coordinator = coordinator or record
            names.append(record.name)
        journals = {n: registry.load(n).journal for n in names}
        try:
            for name in names:
                since = time.time()
                supervisor.start(name, wait_s=30)
                if joined and name == names[0] and count > 1:
                    supervisor.wait_joined(name, since)
            deadline = time.monotonic() + warmup_timeout
            while time.monotonic() < deadline:
                if all(any(e["kind"] == "StageFinished" for e in read_journal(j)) for j in journals.values()):
                    break
                time.sleep(1)
            else:
                raise SystemExit(
                    f"{count} instance(s): not every node finished a stage in {warmup_timeout} s"
                )
            start = time.time()
            time.sleep(window)
            end = time.time()
            steps = 0
            tokens = []
            for journal in journals.values():
                for event in read_journal(journal):
                    if event["kind"] == "StepDone" and start <= event["at"] < end:
                        steps += 1
                        tokens.append(event["tokens_per_second"])
        finally:
            supervisor.stop_many(names, timeout_s=30)
    batch = int(values.get("batch_size", 4))
    return {
        "instances": count,
        "threads_each": plan.threads,
        "steps": steps,
        "completions_per_s": round(batch * steps / (end - start), 3),
        "mean_tokens_per_s_per_step": round(sum(tokens) / len(tokens), 1) if tokens else 0.0,
        "recommended": plan.recommended,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--counts", default="1,2,3")
    parser.add_argument("--window", type=float, default=60.0)
    parser.add_argument("--warmup-timeout", type=float, default=240.0)
    parser.add_argument(
        "--swarm",
        choices=("joined", "independent"),
        default="independent",
        help="joined: one local swarm that the first instance clocks (instances wait for each other every "
        "stage); independent: each instance on its own, as several nodes joined to a public swarm are",
    )
    parser.add_argument("--repeat", type=int, default=1, help="run the counts R times; report medians")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    joined = args.swarm == "joined"
    counts = [int(c) for c in args.counts.split(",")]
    runs: dict[int, list[dict[str, Any]]] = {c: [] for c in counts}
    for _ in range(args.repeat):
        for count in counts:
            runs[count].append(run_count(count, args.window, args.warmup_timeout, joined))
    results = []
    for count in counts:
        median = statistics.median(r["completions_per_s"] for r in runs[count])
        result = min(runs[count], key=lambda r: abs(r["completions_per_s"] - median))
        result = {**result, "completions_per_s": round(median, 3)}
        result["runs_completions_per_s"] = [r["completions_per_s"] for r in runs[count]]
        results.append(result)
    one = next((r for r in results if r["instances"] == 1), results[0])
    for r in results:
        r["ratio_to_one"] = (
            round(r["completions_per_s"] / one["completions_per_s"], 2) if one["completions_per_s"] else None
        )
    if args.json:
        print(json.dumps(results, indent=1))
        return
    recommended = results[0]["recommended"]
    print(f"local-tiny on {os.cpu_count()} cores, {args.swarm} swarm; recommended N = {recommended}")
    for r in results:
        each = ", ".join(str(x) for x in r["runs_completions_per_s"])
        spread = f" (runs: {each})" if args.repeat > 1 else ""
        print(
            f"{r['instances']} instance(s), {r['threads_each']} thread(s) each: {r['completions_per_s']} "
            f"completions/s, ×{r['ratio_to_one']} vs one{spread}"
        )


if __name__ == "__main__":
    main()
