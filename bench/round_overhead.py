"""One single-node round of rlswarm against plain trl ``GRPOTrainer`` on the same model, data and steps.

The node round runs the real thing (DHT, clock, publishing, gathering, leaderboard, winners,
checkpoint, the event journal and its rewards summary); the baseline trains on exactly the rows and
reward function the node used in each stage, with the same GRPO configuration and trainer seed (so
both sample the same completions: the output counts the stages whose final reward came out equal), and
nothing else. Both start from the same weights. The figure is the median ratio node / plain over
every measured round (goal <= 1.03), with a bootstrap interval: on a shared machine the same training
run varies by about 10% from one run to the next, so the interval says how far the median could be off.

Each repeat starts a fresh node and measures its rounds ``--round`` (default 1, the second: a node in
its steady state; its DHT daemon spends about 0.4 s of CPU in its first seconds, which falls into
round 0) to ``--round + --rounds - 1``. The baseline for each starts from the weights the node saved
before that round, and runs as soon as the node has saved the round (the node waits meanwhile), so the
two sides of a pair run within seconds of each other.

Usage: python bench/round_overhead.py [--profile local-tiny] [--steps 8] [--repeats 3] [--round 1]
    [--rounds 1] [--cprofile FILE]

``--cprofile FILE`` also profiles the measured node rounds (the main thread, from the first stage to
the checkpoint: where the node's own time goes) into FILE and prints the top costs.
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
    parser.add_argument("--warmup", type=int, default=1, help="repeats run first and not counted")
    parser.add_argument("--round", type=int, default=1, help="the first round of each node to measure")
    parser.add_argument("--rounds", type=int, default=1, help="how many rounds of each node to measure")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--cprofile", type=Path, help="profile the measured node rounds into this file")
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="rlswarm-bench-"))
    os.environ["RLSWARM_HOME"] = str(home)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    from rlswarm_core.identity.keys import create_identity
    from rlswarm_core.node.engine import Node, NodeConfig
    from rlswarm_core.node.journal import JOURNAL_NAME, EventJournal
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
            # every measured round's starting weights stay on disk for its baseline
            "checkpoints_keep": max(3, args.round + args.rounds + 1),
        }
    ).settings
    measured = range(args.round, args.round + args.rounds)
    plans: dict[int, list] = {}

    def recording_pipeline(node_settings, peer_id):
        pipeline = make_pipeline(node_settings, peer_id)
        original = pipeline.plan

        def plan(round_, stage, previous):
            made = original(round_, stage, previous)
            if round_ in measured:
                plans.setdefault(round_, []).append(made)
            return made

        pipeline.plan = plan
        return pipeline

    import cProfile

    profiler = cProfile.Profile() if args.cprofile else None
    node_times, plain_times = [], []
    # seconds inside run_stage (training, trainer set-up included), node and plain, per round
    node_train, plain_train = [], []
    # CPU seconds of this process (all threads) and of the node's helper processes (DHT, p2pd)
    node_cpu: list[tuple[float, float]] = []
    plain_cpu: list[float] = []
    # each stage's final mean reward, node and plain: equal when both sides sampled the same completions
    node_rewards: list[float] = []
    plain_rewards: list[float] = []
    counted: list[bool] = []  # per measured round: past the warm-up repeats
    idle_helpers_cpu: list[float] = []

    def run_plain(round_: int, repeat: int, saved: dict[int, str]) -> None:
        """Plain trl on the round's rows, scorer, configuration and starting weights."""
        start_from = saved[round_ - 1] if round_ else settings.model
        loaded = load_model(start_from, settings.device, settings.dtype, seed=repeat)
        # the node's trainer seed too: both sides sample the same completions, so do the same work
        runner = GrpoStageRunner(
            loaded.model, loaded.tokenizer, settings, home / f"plain-{repeat}-{round_}", seed=repeat
        )
        started, (cpu_started, helpers_started) = time.perf_counter(), cpu_seconds()
        trained = 0.0
        for made in plans[round_]:
            stage = runner.run_stage(made.rows, made.score, args.steps, on_publish=None)
            trained += stage.seconds
            plain_rewards.append(stage.progress.mean_reward)
        plain_times.append(time.perf_counter() - started)
        plain_train.append(trained)
        cpu, helpers = cpu_seconds()
        plain_cpu.append(cpu - cpu_started)
        # the waiting node's DHT and p2pd run beside the baseline: their CPU time, to show it is nil
        idle_helpers_cpu.append(helpers - helpers_started)

    for repeat in range(args.warmup + args.repeats):
        profiling = profiler is not None and repeat >= args.warmup
        identity = create_identity(home / f"id-{repeat}.pem")
        plans.clear()
        marks: dict[int, dict[str, float]] = {r: {} for r in measured}
        saved: dict[int, str] = {}
        bus = EventBus()

        def on_event(event, marks=marks, profiling=profiling, saved=saved, repeat=repeat):
            if event.kind == "CheckpointSaved":
                saved[event.round] = event.path
            mark = marks.get(getattr(event, "round", None))
            if mark is None:
                return
            if event.kind == "StageStarted" and "start" not in mark:
                mark["start"] = time.perf_counter()
                mark["cpu"], mark["helpers"] = cpu_seconds()
                if profiling:
                    profiler.enable()
            if event.kind == "StageFinished":
                mark["train"] = mark.get("train", 0.0) + event.seconds
                node_rewards.append(event.reward)
            if event.kind == "CheckpointSaved":
                mark["saved"] = time.perf_counter()
                cpu, helpers = cpu_seconds()
                mark["cpu"], mark["helpers"] = cpu - mark["cpu"], helpers - mark["helpers"]
                if profiling:
                    profiler.disable()
                node_times.append(mark["saved"] - mark["start"])
                node_train.append(mark["train"])
                node_cpu.append((mark["cpu"], mark["helpers"]))
                counted.append(repeat >= args.warmup)
                # the baseline runs at once, while the node waits in this callback: the machine's speed
                # drifts over minutes, and a pair measured seconds apart sees the same machine
                run_plain(event.round, repeat, saved)

        bus.subscribe(on_event)
        # as ``rlswarm join`` does: every event goes to the journal, which keeps the rewards summary
        journal = EventJournal(home / f"journal-{repeat}" / JOURNAL_NAME)
        journal.attach(bus)
        config = NodeConfig(
            settings=settings,
            identity_path=identity.path,
            role="coordinator",
            max_rounds=measured.stop,
            stage_timeout_s=1.0,
            pipeline_factory=recording_pipeline,
            seed=repeat,
        )
        Node(config, events=bus).run(threading.Event())
        journal.close()

    # The first repeats pay one-off costs (lazy imports, allocator warm-up) on both sides.
    def kept(values: list) -> list:
        return [v for v, keep in zip(values, counted, strict=True) if keep]

    node_times, plain_times = kept(node_times), kept(plain_times)
    node_train, plain_train = kept(node_train), kept(plain_train)
    node_cpu, plain_cpu = kept(node_cpu), kept(plain_cpu)
    idle_helpers_cpu = kept(idle_helpers_cpu)
    # where the node's extra time goes: training that ran slower beside the node's background work
    # (DHT publishing, p2pd), and the node's own steps between stages (gather, publish, winners, save)
    slower_training = statistics.median(n - p for n, p in zip(node_train, plain_train, strict=True))
    own_steps = statistics.median(t - n for t, n in zip(node_times, node_train, strict=True))
    outside = statistics.median(p - t for p, t in zip(plain_times, plain_train, strict=True))
    ratios = [n / p for n, p in zip(node_times, plain_times, strict=True)]
    # CPU seconds (the node's helper processes included) vary less than wall time on a shared machine
    same_rewards = sum(abs(n - p) < 1e-6 for n, p in zip(node_rewards, plain_rewards, strict=True))
    cpu_ratios = [(c + h) / p for (c, h), p in zip(node_cpu, plain_cpu, strict=True)]
    result = {
        "profile": args.profile,
        "steps_per_stage": args.steps,
        "publish_every_steps": args.publish_every,
        "node_round_s": [round(t, 3) for t in node_times],
        "plain_trl_s": [round(t, 3) for t in plain_times],
        "median_ratio": round(statistics.median(ratios), 3),
        # how far the median could be off, given the spread between repeats (bootstrap, 90%)
        "median_ratio_90ci": [round(v, 3) for v in median_interval(ratios)],
        "median_cpu_ratio": round(statistics.median(cpu_ratios), 3),
        # stages whose final mean reward came out the same on both sides (the same completions sampled),
        # the warm-up repeats' included
        "same_reward_stages": f"{same_rewards}/{len(node_rewards)}",
        "node_training_s": [round(t, 3) for t in node_train],
        "plain_training_s": [round(t, 3) for t in plain_train],
        "median_extra_training_s": round(slower_training, 3),
        "median_node_own_steps_s": round(own_steps - outside, 3),
        "node_cpu_s": [round(c, 3) for c, _ in node_cpu],
        "node_helpers_cpu_s": [round(h, 3) for _, h in node_cpu],
        "plain_cpu_s": [round(c, 3) for c in plain_cpu],
        "median_waiting_node_helpers_cpu_s": round(statistics.median(idle_helpers_cpu), 3),
    }
    if profiler is not None:
        profiler.dump_stats(args.cprofile)
        result["profile"] = str(args.cprofile)
    if args.json:
        print(json.dumps(result))
    else:
        every = args.publish_every
        print(f"profile {args.profile}, {args.steps} steps per stage, publishing every {every} steps")
        for i, (n, p) in enumerate(zip(node_times, plain_times, strict=True)):
            print(f"  pair {i}: node {n:6.2f} s   plain trl {p:6.2f} s   ratio {n / p:.3f}")
        low, high = result["median_ratio_90ci"]
        print(
            f"median ratio node/plain: {result['median_ratio']:.3f} (goal <= 1.03), "
            f"90% interval {low:.3f}-{high:.3f}"
        )
        print(f"stages with the same final reward on both sides: {result['same_reward_stages']}")
        if args.cprofile:
            # the profiler slows only the node's rounds (Python-heavy trl loop included): not the figure
            print("  (node rounds ran under cProfile: run without --cprofile for the ratio)")
        print(
            f"where the node's extra time goes (medians per round): training {slower_training:+.3f} s "
            f"(node {statistics.median(node_train):.2f} s vs plain {statistics.median(plain_train):.2f} s "
            f"inside run_stage), the node's own steps between stages {own_steps - outside:+.3f} s"
        )
        print(
            f"CPU per round (medians): node process {statistics.median(c for c, _ in node_cpu):.2f} s "
            f"+ its DHT and p2pd processes {statistics.median(h for _, h in node_cpu):.2f} s; "
            f"plain {statistics.median(plain_cpu):.2f} s; median ratio {result['median_cpu_ratio']:.3f}; "
            f"the waiting node's DHT and p2pd beside the baseline "
            f"{result['median_waiting_node_helpers_cpu_s']:.3f} s"
        )
        if profiler is not None:
            print_top_costs(args.cprofile)


def median_interval(values: list[float], level: float = 0.9, draws: int = 4000) -> tuple[float, float]:
    """A bootstrap interval for the median of ``values`` (seeded: the same data give the same interval)."""
    import random

    rng = random.Random(0)
    medians = sorted(statistics.median(rng.choices(values, k=len(values))) for _ in range(draws))
    return medians[int((1 - level) / 2 * draws)], medians[int((1 + level) / 2 * draws) - 1]


def cpu_seconds() -> tuple[float, float]:
    """CPU seconds used so far by this process and by its live child processes (the DHT, p2pd)."""
    import psutil

    me = psutil.Process()
    own = sum(me.cpu_times()[:2])
    helpers = 0.0
    for child in me.children(recursive=True):
        try:
            helpers += sum(child.cpu_times()[:2])
        except psutil.Error:
            continue
    return own, helpers


def print_top_costs(path: Path, limit: int = 15) -> None:
    """The node's rounds by where the time went: training in trl, and the project's own functions
    (cumulative, without what they spent inside trl's training loop)."""
    import pstats

    stats = pstats.Stats(str(path))
    total = stats.total_tt  # type: ignore[attr-defined]
    rows = stats.stats  # type: ignore[attr-defined]
    train = sum(
        ct for (file, _, name), (_, _, _, ct, _) in rows.items() if name == "train" and "trainer" in file
    )
    print(f"profile of the measured node rounds ({total:.2f} s of the main thread): trl training loop "
          f"{train:.2f} s ({train / total:.1%})")  # fmt: skip
    ours = sorted(
        ((ct, f"{Path(file).name}:{line} {name}") for (file, line, name), (_, _, _, ct, _) in rows.items()
         if "rlswarm_core" in file),
        reverse=True,
    )  # fmt: skip
    for cumulative, where in ours[:limit]:
        print(f"  {cumulative:7.3f} s {cumulative / total:6.1%}  {where}")


if __name__ == "__main__":
    main()
