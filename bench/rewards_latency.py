"""Wall time of ``rlswarm rewards --json`` with 3 local instances whose journals hold many events.

Usage: python bench/rewards_latency.py [--rounds N] [--runs N] [--json]. Each instance's journal gets
``rounds`` rounds of three stages (20 steps each), written by the real event journal. Reported: the
median wall time of the whole command in a fresh interpreter (start-up included) and of the in-process
read alone. Goal: under 0.5 s for the command.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def write_journals(home: Path, instances: int, rounds: int, steps: int = 20) -> int:
    os.environ["RLSWARM_HOME"] = str(home)
    from rlswarm_core.identity.keys import create_identity
    from rlswarm_core.node.events import NodeStarted, RoundFinished, StageFinished, StepDone
    from rlswarm_core.node.journal import JOURNAL_NAME, EventJournal
    from rlswarm_core.swarm.events import LeaderboardChanged, PeerCountChanged, RewardsPublished, StageStarted
    from rlswarm_core.system.paths import app_paths

    lines = 0
    for index in range(instances):
        name = f"node-{index + 1}"
        peer = create_identity(app_paths().identity_file(name)).peer_id
        journal = EventJournal(app_paths().instances / name / JOURNAL_NAME)
        journal(NodeStarted(peer_id=peer, animal_name="x", model="m", profile="local-tiny", device="cpu",
                            dtype="float32", role="follower"))  # fmt: skip
        for r in range(rounds):
            for s in range(3):
                journal(StageStarted(round=r, stage=s))
                for step in range(1, steps + 1):
                    journal(
                        StepDone(round=r, stage=s, step=step, steps=steps, reward=0.5, tokens_per_second=40.0)
                    )
                journal(PeerCountChanged(round=r, stage=s, peers=3, previous=3))
                journal(RewardsPublished(round=r, stage=s, reward=0.5, steps=steps))
                journal(StageFinished(round=r, stage=s, reward=0.5, steps=steps, seconds=2.0, questions=4))
                journal(LeaderboardChanged(round=r, stage=s, top=((peer, 0.5),)))
                lines += steps + 5
            journal(RoundFinished(round=r, reward=1.5, winners=(peer,), vote=(peer,)))
            lines += 1
        journal.close()
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=300)
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="rlswarm-bench-") as tmp:
        home = Path(tmp)
        lines = write_journals(home, 3, args.rounds)
        env = {**os.environ, "RLSWARM_HOME": str(home), "NO_COLOR": "1"}
        cmd = [sys.executable, "-m", "rlswarm_cli.main", "rewards", "--json"]
        first = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO, check=True)
        nodes = json.loads(first.stdout)["nodes"]
        assert len(nodes) == 3 and all(len(n["stages"]) == 3 * args.rounds for n in nodes)
        samples = []
        for _ in range(args.runs):
            start = time.perf_counter()
            subprocess.run(cmd, capture_output=True, env=env, cwd=REPO, check=True)
            samples.append(time.perf_counter() - start)
        from rlswarm_core.rewards.view import local_rewards, snapshot

        reads = []
        for _ in range(args.runs):
            start = time.perf_counter()
            snapshot(local_rewards())
            reads.append(time.perf_counter() - start)
    result = {
        "instances": 3,
        "journal_lines": lines,
        "command_median_s": round(statistics.median(samples), 3),
        "read_median_s": round(statistics.median(reads), 3),
        "goal_s": 0.5,
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(
            f"rewards --json, 3 instances, {lines} journal lines: {result['command_median_s']} s "
            f"(command, median of {args.runs}); reading alone {result['read_median_s']} s; goal < 0.5 s"
        )


if __name__ == "__main__":
    main()
