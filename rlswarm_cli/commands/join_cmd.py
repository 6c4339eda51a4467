"""``rlswarm join``: run one node in the foreground.

The flags become a :class:`~rlswarm_core.node.runtime.NodeRequest`; the node's runtime does the rest
(settings, identity, chain, journal, log, metrics, Hub pushes, Ctrl-C). This module adds what only a
terminal has: the live display and, on a first run, a login walk-through.
"""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from rlswarm_cli.app import output
from rlswarm_cli.options import ContractOpt, InstanceOpt, JsonOpt, ProfileOpt, RpcUrlOpt

Role = Annotated[
    str | None,
    typer.Option(
        "--role",
        help="coordinator (runs the round/stage clock) or follower; default: coordinator when no "
        "--initial-peer is given, else follower.",
    ),
]


def join(
    ctx: typer.Context,
    profile: ProfileOpt = None,
    model: Annotated[str | None, typer.Option("--model", help="Model name, folder or builtin:NAME.")] = None,
    max_rounds: Annotated[
        int | None, typer.Option("--max-rounds", help="Stop once the swarm reaches this round.")
    ] = None,
    rounds: Annotated[
        int | None,
        typer.Option(
            "--rounds", min=1, help="Train this many more rounds from where the node resumes, then stop."
        ),
    ] = None,
    initial_peer: Annotated[
        list[str] | None, typer.Option("--initial-peer", help="Bootstrap multiaddr (repeatable).")
    ] = None,
    port: Annotated[int | None, typer.Option("--port", help="DHT port (default 38331; 0 picks one).")] = None,
    host: Annotated[str | None, typer.Option("--host", help="Address the DHT listens on.")] = None,
    identity: Annotated[
        str | None,
        typer.Option("--identity", help="Identity name (rlswarm identity list); default: the instance name."),
    ] = None,
    role: Role = None,
    coordinator_peer_id: Annotated[
        str | None, typer.Option("--coordinator-peer-id", help="Trust only this peer's round/stage clock.")
    ] = None,
    stage_timeout: Annotated[
        float, typer.Option("--stage-timeout", help="Seconds to wait for peers or the clock per stage.")
    ] = 600.0,
    min_peers: Annotated[
        int, typer.Option("--min-peers", help="Coordinator: wait for this many peers before each stage ends.")
    ] = 1,
    instance: InstanceOpt = "default",
    network: Annotated[
        str | None,
        typer.Option("--network", help="local (DHT clock), devnet or testnet (on-chain coordinator)."),
    ] = None,
    rpc_url: RpcUrlOpt = None,
    contract: ContractOpt = None,
    swarm: Annotated[
        str | None,
        typer.Option(
            "--swarm", help="Swarm file (path or https URL) from the swarm's host: `rlswarm swarm`."
        ),
    ] = None,
    json_flag: JsonOpt = False,
) -> None:
    """Run one node in the foreground: join the swarm, train round after round, publish and checkpoint."""
    from rlswarm_cli.join_display import JoinDisplay
    from rlswarm_core.node.runtime import LoginRequired, NodeRequest, NodeRuntime

    out = output(ctx, json_flag)
    flags = {
        "profile": profile,
        "model": model,
        "dht_port": port,
        "host": host,
        "initial_peers": initial_peer or None,
        "network": network,
        "coordinator_peer_id": coordinator_peer_id,
        "rpc_url": rpc_url,
        "contract": contract,
    }
    request = NodeRequest(
        settings={k: v for k, v in flags.items() if v is not None},
        instance=instance,
        identity=identity,
        role=role,
        max_rounds=max_rounds,
        rounds=rounds,
        stage_timeout_s=stage_timeout,
        min_peers=min_peers,
        swarm=swarm,
    )
    # the policy stays installed to the end: a Ctrl-C during interpreter shutdown exits at once
    runtime = NodeRuntime(request, JoinDisplay(out), keep_handlers=True)
    try:
        runtime.prepare()
    except LoginRequired as missing:
        if not _walk_through_login(ctx, out, missing):
            raise
        runtime.prepare()
    summary = runtime.run()
    if out.json_mode:
        return
    out.success(
        f"stopped ({summary.reason}): {len(summary.rounds_completed)} round(s), "
        f"{summary.stages_trained} stage(s) trained"
    )


def _walk_through_login(ctx: typer.Context, out: Any, missing: Exception) -> bool:
    """On a terminal, a first run that lacks a login is offered one right here, without a browser;
    anywhere else the one-line error stands. True once a login was stored."""
    from rlswarm_cli.commands import login_cmd

    if out.json_mode or not sys.stdin.isatty():
        return False
    out.warn(str(missing))
    choice = typer.prompt("Log in now: [w]allet private key, [p]roxy, or [q]uit", default="q").strip().lower()
    if choice.startswith("w"):
        login_cmd.login_wallet(ctx, key_stdin=False, insecure_storage=False, json_out=False)
        return True
    if choice.startswith("p"):
        url = typer.prompt("proxy base URL").strip()
        login_cmd.login_proxy(ctx, url=url, insecure_storage=False, json_out=False)
        return True
    return False
