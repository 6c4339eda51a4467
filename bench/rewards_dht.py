"""Wall time of ``rlswarm rewards --source dht`` against a local swarm of N real DHT nodes.

Usage: python bench/rewards_dht.py [--nodes 16] [--rounds 8] [--runs 5] [--json]. Every node publishes
its signed reward for each stage of ``rounds`` rounds; node 0 runs the clock and publishes the
leaderboards. Reported: the median and worst wall time of the whole command in a fresh interpreter
(start-up, a throwaway client DHT node, the reads), asking for every node's rewards. Goal: under 2 s.
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
sys.path.insert(0, str(REPO))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--nodes", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    from rlswarm_core.identity.keys import create_identity
    from rlswarm_core.swarm.coordinator import DHTCoordinator, RoundStage
    from rlswarm_core.swarm.dht import DHTOptions, start_node
    from rlswarm_core.swarm.events import EventBus
    from rlswarm_core.swarm.exchange import Exchange
    from rlswarm_core.swarm.leaderboard import rank

    nodes = []
    with tempfile.TemporaryDirectory(prefix="rlswarm-bench-") as tmp:
        try:
            bootstrap: list[str] = []
            for i in range(args.nodes):
                ident = create_identity(Path(tmp) / f"node-{i}.pem")
                options = DHTOptions(
                    identity_path=ident.path, host="127.0.0.1", port=0, initial_peers=tuple(bootstrap)
                )
                nodes.append(start_node(options, EventBus()))
                if not bootstrap:
                    bootstrap = [m for m in nodes[0].visible_maddrs() if "/127.0.0.1/" in m][:1]
            now = RoundStage(args.rounds - 1, 2)
            DHTCoordinator(nodes[0], 3, is_coordinator=True, start=now, events=EventBus())
            scores = {}
            for i, node in enumerate(nodes):
                ex = Exchange(node, events=EventBus())
                items = [
                    ex._reward_item(RoundStage(r, s), float(i + r + s), 4)
                    for r in range(args.rounds)
                    for s in range(3)
                ]
                assert node.store_many(items), f"node {i} could not publish"
                scores[node.peer_id] = float(i)
            coordinator = Exchange(nodes[0], events=EventBus())
            for r in range(args.rounds):
                for s in range(3):
                    coordinator.publish_leaderboard(RoundStage(r, s), rank(scores))
            cmd = [sys.executable, "-m", "rlswarm_cli.main", "rewards", "--source", "dht", "--json"]
            cmd += ["--initial-peer", bootstrap[0], "--coordinator-peer-id", nodes[0].peer_id]
            env = {**os.environ, "RLSWARM_HOME": str(Path(tmp) / "home"), "NO_COLOR": "1"}
            peer_args = ["--peer", nodes[1].peer_id]
            samples = []
            answer = None
            for _ in range(args.runs):
                started = time.perf_counter()
                done = subprocess.run(
                    [*cmd, *peer_args], capture_output=True, text=True, env=env, cwd=REPO, timeout=120
                )
                samples.append(time.perf_counter() - started)
                if done.returncode != 0:
                    raise SystemExit(f"rewards failed: {done.stderr.strip()}")
                answer = json.loads(done.stdout)["nodes"][0]
            assert answer is not None and len(answer["stages"]) == args.rounds * 3, answer
        finally:
            for node in nodes:
                node.shutdown()
    result = {
        "nodes": args.nodes,
        "stages_read": args.rounds * 3,
        "median_s": round(statistics.median(samples), 3),
        "worst_s": round(max(samples), 3),
        "goal_s": 2.0,
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(
            f"rewards --source dht on {args.nodes} nodes, {result['stages_read']} stages: median "
            f"{result['median_s']} s, worst {result['worst_s']} s over {args.runs} runs; goal < 2 s"
        )


if __name__ == "__main__":
    main()
