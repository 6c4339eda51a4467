"""Entry point of an instance's supervisor: ``python -m rlswarm_core.instances.supervise NAME``.

``rlswarm instances start`` runs it detached; a systemd unit or launchd agent runs it in the foreground.
"""

from __future__ import annotations

import argparse
import sys

from rlswarm_core.errors import RlswarmError
from rlswarm_core.instances.registry import load
from rlswarm_core.instances.supervisor import Backoff, Supervisor


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="rlswarm-supervise", description=__doc__)
    parser.add_argument("name")
    parser.add_argument("--backoff-base", type=float, default=1.0, help="first restart delay, seconds")
    parser.add_argument("--backoff-max", type=float, default=60.0, help="longest restart delay, seconds")
    parser.add_argument(
        "--max-failures", type=int, default=10, help="quick failures in a row before giving up"
    )
    parser.add_argument("--stop-timeout", type=float, default=20.0, help="seconds before SIGKILL on stop")
    args, extra = parser.parse_known_args(argv)
    try:
        record = load(args.name)
    except RlswarmError as exc:
        sys.stderr.write(f"error: {exc.one_line()}\n")
        return 2
    supervisor = Supervisor(
        record,
        backoff=Backoff(base_s=args.backoff_base, max_s=args.backoff_max, max_failures=args.max_failures),
        stop_timeout_s=args.stop_timeout,
        extra_args=[a for a in extra if a != "--"],
    )
    return supervisor.run()


if __name__ == "__main__":
    sys.exit(main())
