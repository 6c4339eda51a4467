"""A swarm peer run as its own process, so a test can kill it: joins, publishes its reward (and, with
``--outputs``, its outputs) for a stage, says READY and waits to be killed. With ``--silent`` it only
joins: a connected peer that never publishes."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from rlswarm_core.swarm.coordinator import RoundStage
from rlswarm_core.swarm.dht import DHTOptions, start_node
from rlswarm_core.swarm.exchange import Exchange, StageOutput


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--identity", type=Path, required=True)
    parser.add_argument("--peer", action="append", default=[])
    parser.add_argument("--round", type=int, required=True)
    parser.add_argument("--stage", type=int, default=0)
    parser.add_argument("--outputs", action="store_true")
    parser.add_argument("--silent", action="store_true")
    args = parser.parse_args()
    node = start_node(
        DHTOptions(identity_path=args.identity, host="127.0.0.1", port=0, initial_peers=tuple(args.peer))
    )
    rs = RoundStage(args.round, args.stage)
    exchange = Exchange(node)
    if not args.silent:
        exchange.publish_reward(rs, 5.0, steps=4)
    if args.outputs and not args.silent:
        exchange.publish_outputs(rs, [StageOutput("q", "from the doomed peer", reward=1.0)])
    sys.stdout.write("READY\n")
    sys.stdout.flush()
    time.sleep(600)


if __name__ == "__main__":
    main()
