"""Memory over many rounds: a single local-tiny node runs ``--rounds`` rounds and the resident memory of
its whole process tree (trainer, DHT process, p2pd) is sampled after every round, with the round's
wall time (a node builds a trainer per stage for as long as it runs; nothing may pile up across them).

Growth is the mean of the last 10 samples against the mean of the 10 after a 5-round warm-up (goal < 5%).
Usage: python bench/soak.py [--rounds 50] [--json]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

WARMUP = 5
WINDOW = 10


def tree_rss_mb() -> float:
    import psutil

    me = psutil.Process()
    total = 0
    for proc in [me, *me.children(recursive=True)]:
        try:
            total += proc.memory_info().rss
        except psutil.Error:
            continue
    return total / 1024**2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--profile", default="local-tiny")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.rounds < WARMUP + 2 * WINDOW:
        parser.error(f"need at least {WARMUP + 2 * WINDOW} rounds")
    home = Path(tempfile.mkdtemp(prefix="rlswarm-soak-"))
    os.environ["RLSWARM_HOME"] = str(home)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    from rlswarm_core.identity.keys import create_identity
    from rlswarm_core.node.engine import Node, NodeConfig
    from rlswarm_core.settings.resolve import resolve_node_settings
    from rlswarm_core.swarm.events import EventBus

    settings = resolve_node_settings({"profile": args.profile, "dht_port": 0, "host": "127.0.0.1"}).settings
    samples: list[float] = []
    round_ends: list[float] = []

    def on_event(event: object) -> None:
        if getattr(event, "kind", "") == "CheckpointSaved":
            samples.append(tree_rss_mb())
            round_ends.append(time.monotonic())

    bus = EventBus()
    bus.subscribe(on_event)
    identity = create_identity(home / "soak.pem")
    config = NodeConfig(
        settings=settings,
        identity_path=identity.path,
        role="coordinator",
        max_rounds=args.rounds,
        stage_timeout_s=1.0,
    )
    Node(config, events=bus).run(threading.Event())
    early = statistics.mean(samples[WARMUP : WARMUP + WINDOW])
    late = statistics.mean(samples[-WINDOW:])
    round_s = [b - a for a, b in itertools.pairwise(round_ends)]
    early_s = statistics.median(round_s[WARMUP - 1 : WARMUP - 1 + WINDOW])
    late_s = statistics.median(round_s[-WINDOW:])
    result = {
        "rounds": len(samples),
        "rss_mb_early": round(early, 1),
        "rss_mb_late": round(late, 1),
        "growth_pct": round((late / early - 1) * 100, 2),
        "rss_mb_per_round": [round(s, 1) for s in samples],
        "round_s_early": round(early_s, 2),
        "round_s_late": round(late_s, 2),
        "round_time_growth_pct": round((late_s / early_s - 1) * 100, 2),
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(f"{len(samples)} rounds of {args.profile}; process tree RSS after each round:")
        print("  " + " ".join(f"{s:.0f}" for s in samples))
        print(
            f"rounds {WARMUP}-{WARMUP + WINDOW - 1}: {early:.1f} MB, last {WINDOW}: {late:.1f} MB, "
            f"growth {result['growth_pct']:+.2f}% (goal < 5%)"
        )
        print(
            f"median round time: {early_s:.2f} s early, {late_s:.2f} s in the last {WINDOW} "
            f"({result['round_time_growth_pct']:+.2f}%)"
        )


if __name__ == "__main__":
    main()
