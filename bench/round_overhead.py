"""One single-node round of rlswarm against plain trl ``GRPOTrainer`` on the same model, data and steps.

The node round runs the real thing (DHT, clock, publishing, gathering, leaderboard, winners,
checkpoint); the baseline trains on exactly the rows and reward function the node used in each stage,
with the same GRPO configuration, and nothing else. Both start from the same weights. The figure is
the median ratio node / plain over ``--repeats`` rounds (goal <= 1.05).

Usage: python bench/round_overhead.py [--profile local-tiny] [--steps 8] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="local-tiny")
    parser.add_argument("--steps", type=int, default=8, help="GRPO steps per stage")
    parser.add_argument("--publish-every", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=1, help="rounds run first and not counted")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="rlswarm-bench-"))
    os.environ["RLSWARM_HOME"] = str(home)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    from rlswarm_core.identity.keys import create_identity
    from rlswarm_core.node.engine import Node, NodeConfig
    from rlswarm_core.settings.resolve import resolve_node_settings
    from rlswarm_core.swarm.events import EventBus
    from rlswarm_core.training.grpo import GrpoStageRunner
    from rlswarm_core.training.models import load_model
    from rlswarm_core.training.stages import make_pipeline

    settings = resolve_node_settings(
        {
            "profile": args.profile,
            "dht_port": 0,
            "host": "127.0.0.1",
            "steps_per_stage": args.steps,
            "publish_every_steps": args.publish_every,
        }
    ).settings
    plans: list = []

    def recording_pipeline(node_settings, peer_id):
        pipeline = make_pipeline(node_settings, peer_id)
        original = pipeline.plan

        def plan(round_, stage, previous):
            made = original(round_, stage, previous)
            plans.append(made)
            return made

        pipeline.plan = plan
        return pipeline

    node_times, plain_times = [], []
    for repeat in range(args.warmup + args.repeats):
        identity = create_identity(home / f"id-{repeat}.pem")
        plans.clear()
        marks: dict[str, float] = {}
        bus = EventBus()

        def on_event(event, marks=marks):
            if event.kind == "StageStarted" and "start" not in marks:
                marks["start"] = time.perf_counter()
            if event.kind == "RoundFinished":
                marks["end"] = time.perf_counter()
            if event.kind == "CheckpointSaved":
                marks["saved"] = time.perf_counter()

        bus.subscribe(on_event)
        config = NodeConfig(
            settings=settings,
            identity_path=identity.path,
            role="coordinator",
            max_rounds=1,
            stage_timeout_s=1.0,
            pipeline_factory=recording_pipeline,
            seed=repeat,
        )
        Node(config, events=bus).run(threading.Event())
        node_times.append(marks["saved"] - marks["start"])

        # Plain trl on the same rows, scorer, configuration and starting weights.
        loaded = load_model(settings.model, settings.device, settings.dtype, seed=repeat)
        runner = GrpoStageRunner(loaded.model, loaded.tokenizer, settings, home / f"plain-{repeat}")
        started = time.perf_counter()
        for made in plans:
            runner.run_stage(made.rows, made.score, args.steps, on_publish=None)
        plain_times.append(time.perf_counter() - started)

    # The first rounds pay one-off costs (lazy imports, allocator warm-up) on both sides.
    node_times, plain_times = node_times[args.warmup :], plain_times[args.warmup :]
    ratios = [n / p for n, p in zip(node_times, plain_times, strict=True)]
    result = {
        "profile": args.profile,
        "steps_per_stage": args.steps,
        "publish_every_steps": args.publish_every,
        "node_round_s": [round(t, 3) for t in node_times],
        "plain_trl_s": [round(t, 3) for t in plain_times],
        "median_ratio": round(statistics.median(ratios), 3),
    }
    if args.json:
        print(json.dumps(result))
    else:
        every = args.publish_every
        print(f"profile {args.profile}, {args.steps} steps per stage, publishing every {every} steps")
        for i, (n, p) in enumerate(zip(node_times, plain_times, strict=True)):
            print(f"  round {i}: node {n:6.2f} s   plain trl {p:6.2f} s   ratio {n / p:.3f}")
        print(f"median ratio node/plain: {result['median_ratio']:.3f} (goal <= 1.05)")


if __name__ == "__main__":
    main()
