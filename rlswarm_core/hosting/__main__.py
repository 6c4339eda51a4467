"""A hosted swarm as a service runs it: ``python -m rlswarm_core.hosting serve FILE [--max-rounds N]``.

What ``rlswarm swarm serve --install-service`` writes into the systemd unit or launchd agent, so the
engine serves a swarm without the command-line package. Each reported event is one line on stderr (the
service manager keeps it); SIGTERM and Ctrl-C stop the bootnodes and the stage manager in order.
Exit status: 0 when stopped, 1 on an error.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from typing import Any

from rlswarm_core.errors import RlswarmError


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m rlswarm_core.hosting", description=__doc__.splitlines()[0]
    )
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the swarm's bootnodes and stage manager")
    serve.add_argument("file", help="the swarm file")
    serve.add_argument("--max-rounds", type=int, help="stop once the contract reaches this round")
    return parser.parse_args(argv)


def _say(line: str) -> None:
    from rlswarm_core.secrets.redact import redact

    sys.stderr.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {redact(line)}\n")
    sys.stderr.flush()


def serve(file: str, max_rounds: int | None) -> None:
    from rlswarm_core.hosting.deploy import stored_wallet_key
    from rlswarm_core.hosting.serve import SwarmServer, reported
    from rlswarm_core.hosting.swarmfile import load_swarm_file
    from rlswarm_core.swarm.events import EventBus

    swarm = load_swarm_file(file)
    key = stored_wallet_key() if swarm.chain is not None else None
    bus = EventBus()

    def show(event: object) -> None:
        report = reported(event)
        if report is not None:
            _say(report[1])

    bus.subscribe(show)
    stop = threading.Event()

    def request_stop(signum: int, frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    server = SwarmServer(swarm, private_key=key, events=bus, max_rounds=max_rounds)
    try:
        server.start()
        _say(f"serving swarm {swarm.name}")
        server.run(stop)
    finally:
        stop.set()
        server.close()
        _say(f"stopped serving swarm {swarm.name}")


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    try:
        serve(args.file, args.max_rounds)
    except RlswarmError as exc:
        _say(f"error: {exc}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
