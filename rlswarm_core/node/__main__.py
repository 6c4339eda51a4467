"""A node as a service runs it: ``python -m rlswarm_core.node --instance NAME [options]``.

What an instance's supervisor starts. Everything the node reports goes to the instance's journal and
log file; this process prints only a one-line error (the supervisor copies it into the same log).
Exit status: 0 when the node stopped or finished, 1 on an error, 130 on a forced stop.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from rlswarm_core.errors import RlswarmError
from rlswarm_core.node.renderer import NodeRenderer
from rlswarm_core.node.runtime import NodeRequest, NodeRuntime

# flag name -> settings field, as ``rlswarm join`` spells them
_SETTING_FLAGS = {
    "profile": "profile",
    "model": "model",
    "port": "dht_port",
    "host": "host",
    "initial_peer": "initial_peers",
    "network": "network",
    "coordinator_peer_id": "coordinator_peer_id",
    "rpc_url": "rpc_url",
    "contract": "contract",
}


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m rlswarm_core.node", description=__doc__.splitlines()[0])
    parser.add_argument("--instance", default="default", help="instance name (state and logs)")
    parser.add_argument("--identity", help="identity name; default: the instance name")
    parser.add_argument("--role", choices=("coordinator", "follower"))
    parser.add_argument("--max-rounds", type=int, help="stop once the swarm reaches this round")
    parser.add_argument("--rounds", type=int, help="train this many more rounds from where the node resumes")
    parser.add_argument("--swarm", help="a swarm file (path or https URL) to join")
    parser.add_argument("--stage-timeout", type=float, default=600.0)
    parser.add_argument("--min-peers", type=int, default=1)
    parser.add_argument("--profile")
    parser.add_argument("--model")
    parser.add_argument("--port", type=int)
    parser.add_argument("--host")
    parser.add_argument("--initial-peer", action="append")
    parser.add_argument("--network")
    parser.add_argument("--coordinator-peer-id")
    parser.add_argument("--rpc-url")
    parser.add_argument("--contract")
    parser.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="any other setting, at flag level"
    )
    return parser.parse_args(argv)


def request_from(args: argparse.Namespace) -> NodeRequest:
    from rlswarm_core.settings.model import ENV_PREFIX, FIELDS, env_overrides

    given = {field: getattr(args, flag) for flag, field in _SETTING_FLAGS.items()}
    settings: dict[str, Any] = {k: v for k, v in given.items() if v is not None}

    for item in args.set:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or key not in FIELDS:
            raise RlswarmError(f"--set {item!r} is not SETTING=VALUE", "see 'rlswarm config show' for names")
        # parsed like its RLSWARM_* variable (lists are comma-separated)
        settings.update(env_overrides({ENV_PREFIX + key.upper(): value}))
    return NodeRequest(
        settings=settings,
        instance=args.instance,
        identity=args.identity,
        role=args.role,
        max_rounds=args.max_rounds,
        rounds=args.rounds,
        swarm=args.swarm,
        stage_timeout_s=args.stage_timeout,
        min_peers=args.min_peers,
    )


def main(argv: list[str] | None = None) -> int:
    from rlswarm_core.system.paths import set_private_umask

    set_private_umask()
    args = parse(argv)
    try:
        runtime = NodeRuntime(request_from(args), NodeRenderer(), keep_handlers=True)
        runtime.run()
    except RlswarmError as exc:
        sys.stderr.write(f"error: {exc.one_line()}\n")
        return 1
    except KeyboardInterrupt:
        sys.stderr.write("error: interrupted\n")
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
