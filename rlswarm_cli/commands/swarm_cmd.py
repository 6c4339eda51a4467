"""`rlswarm swarm create|deploy|serve|status`: host a community swarm that others join with
`rlswarm join --swarm FILE|URL`. The work is in :mod:`rlswarm_core.hosting`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from rlswarm_cli.app import interrupt_on_sigterm, new_app, output
from rlswarm_cli.options import JsonOpt

app = new_app("swarm", "Host a swarm: create its file, deploy its contract, serve it, check its status.")

FileArg = Annotated[Path, typer.Argument(help="The swarm file (.toml or .yaml).")]


@app.command("create")
def create(
    ctx: typer.Context,
    path: FileArg,
    name: Annotated[str, typer.Option("--name", help="The swarm's name.")],
    task_family: Annotated[
        str, typer.Option("--task-family", help="gsm8k, reasoning-gym or code.")
    ] = "gsm8k",
    model: Annotated[
        str, typer.Option("--model", help="The model nodes train.")
    ] = "Gensyn/Qwen2.5-0.5B-Instruct",
    task_setting: Annotated[
        list[str] | None,
        typer.Option("--set", help="A task setting for every node, NAME=VALUE (repeatable)."),
    ] = None,
    rpc_url: Annotated[str, typer.Option("--rpc-url", help="The chain's RPC URL.")] = "http://127.0.0.1:8545",
    chain_id: Annotated[int, typer.Option("--chain-id", help="The chain's id.", min=1)] = 31337,
    no_chain: Annotated[
        bool, typer.Option("--no-chain", help="A DHT-only swarm, without a contract.")
    ] = False,
    host: Annotated[str, typer.Option("--host", help="Address the bootnodes listen on.")] = "0.0.0.0",
    port: Annotated[list[int] | None, typer.Option("--port", help="A bootnode's port (repeatable).")] = None,
    announce: Annotated[
        list[str] | None, typer.Option("--announce", help="A bootnode's public multiaddr (repeatable).")
    ] = None,
    min_peers: Annotated[int, typer.Option("--min-peers", help="Submissions a stage waits for.", min=1)] = 1,
    grace: Annotated[float, typer.Option("--grace", help="Seconds then waited for the other peers.")] = 30.0,
    max_stage: Annotated[float, typer.Option("--max-stage-seconds", help="The stage schedule.")] = 600.0,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
    json_flag: JsonOpt = False,
) -> None:
    """Write a new swarm file; its first bootnode's identity is created now, so the file names its peer id."""
    import yaml

    from rlswarm_core.errors import ConfigError
    from rlswarm_core.hosting.serve import bootnode_peer_id, listed_bootnodes
    from rlswarm_core.hosting.swarmfile import SwarmFile, parse_swarm_file, save_swarm_file

    out = output(ctx, json_flag)
    if path.exists() and not force:
        raise ConfigError(f"{path} exists", "pass --force to overwrite it, or choose another path")
    settings: dict[str, object] = {}
    for item in task_setting or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set {item!r} is not NAME=VALUE", "e.g. --set steps_per_stage=2")
        settings[key.strip()] = yaml.safe_load(value)
    data = {
        "name": name,
        "task": {"family": task_family, "settings": settings},
        "model": {"name": model},
        "stages": {"min_peers": min_peers, "grace_s": grace, "max_stage_s": max_stage},
        "chain": None if no_chain else {"chain_id": chain_id, "rpc_url": rpc_url},
        "serve": {"host": host, "ports": port or [38331], "announce": announce or []},
    }
    swarm = parse_swarm_file(yaml.safe_dump(data), "(new)", toml=False)  # validated like a read file
    known = {"coordinator_peer_id": bootnode_peer_id(name)}
    if no_chain:  # no contract to read the bootnodes from: the file lists them
        known["bootnodes"] = listed_bootnodes(swarm)
    swarm = SwarmFile(**{**swarm.dump(), **known})
    save_swarm_file(swarm, path)
    next_step = "rlswarm swarm serve" if no_chain else "rlswarm swarm deploy"
    out.emit(
        {"path": str(path), **swarm.dump()},
        human=(
            f"wrote {path} (swarm {name}, coordinator peer {swarm.coordinator_peer_id}); "
            f"next: {next_step} {path}"
        ),
    )


@app.command("deploy")
def deploy(ctx: typer.Context, path: FileArg, json_flag: JsonOpt = False) -> None:
    """Deploy the coordinator contract with your wallet, grant its roles, and record it in the file."""
    from rlswarm_core.hosting.deploy import deploy_swarm, stored_wallet_key
    from rlswarm_core.hosting.swarmfile import load_swarm_file, save_swarm_file

    out = output(ctx, json_flag)
    swarm = load_swarm_file(path)
    result = deploy_swarm(swarm, stored_wallet_key())
    save_swarm_file(swarm, path)
    out.emit(
        {"path": str(path), **result.__dict__},
        human=(
            f"contract:  {result.contract} (chain {result.chain_id})\n"
            f"code hash: {result.code_hash}\n"
            f"stage manager: {result.stage_manager}; bootnode manager: {result.bootnode_manager}\n"
            f"recorded in {path}; next: rlswarm swarm serve {path}"
        ),
    )


@app.command("serve")
def serve(
    ctx: typer.Context,
    path: FileArg,
    max_rounds: Annotated[
        int | None, typer.Option("--max-rounds", help="Stop once the contract reaches this round.")
    ] = None,
    install_service: Annotated[
        bool,
        typer.Option(
            "--install-service",
            help="Write a systemd user unit (Linux) or launchd agent (macOS) that serves FILE at login.",
        ),
    ] = False,
    json_flag: JsonOpt = False,
) -> None:
    """Run the swarm's bootnodes and its stage manager until Ctrl-C; publish the bootnodes on chain."""
    import threading

    from rlswarm_core.hosting.deploy import stored_wallet_key
    from rlswarm_core.hosting.serve import SwarmServer, reported
    from rlswarm_core.hosting.swarmfile import load_swarm_file
    from rlswarm_core.swarm.events import EventBus

    out = output(ctx, json_flag)
    swarm = load_swarm_file(path)
    if install_service:
        from rlswarm_core.instances.service import install_swarm

        unit = install_swarm(swarm.name, path)
        human = "\n".join([f"wrote {unit.path}", "enable with:", *(f"  {cmd}" for cmd in unit.enable)])
        return out.emit({"service": {"path": str(unit.path), "enable": unit.enable}}, human)
    key = stored_wallet_key() if swarm.chain is not None else None
    bus = EventBus()

    def show(event: object) -> None:
        report = reported(event)
        if report is not None:
            out.record(*report)

    bus.subscribe(show)
    interrupt_on_sigterm()
    server = SwarmServer(swarm, private_key=key, events=bus, max_rounds=max_rounds)
    stop = threading.Event()
    try:
        server.start()
        out.info(f"serving swarm {swarm.name}; press Ctrl-C to stop")
        server.run(stop)
    except KeyboardInterrupt:
        out.info("stopping the swarm's bootnodes and stage manager")
    finally:
        stop.set()
        server.close()


@app.command("status")
def status(
    ctx: typer.Context,
    source: Annotated[str, typer.Argument(help="The swarm file: a path or an https URL.")],
    quiet: Annotated[
        float, typer.Option("--stopped-after", help="Seconds without progress after which it looks stopped.")
    ] = 1800.0,
    json_flag: JsonOpt = False,
) -> None:
    """Round and stage, submissions per stage, peers seen, bootnodes reachable, stage manager health."""
    from rlswarm_core.hosting.status import swarm_status
    from rlswarm_core.hosting.swarmfile import read_swarm_source

    out = output(ctx, json_flag)
    found = swarm_status(read_swarm_source(source), quiet_s=quiet)

    def human() -> object:
        rows = [
            ["swarm", found.name],
            [
                "round / stage",
                f"{found.round} / {found.stage} (of {found.stage_count})"
                if found.round is not None
                else "- (no chain clock: a DHT-only swarm, or the contract could not be read)",
            ],
            ["peers seen", found.peers_seen],
            ["submissions", ", ".join(f"{k}: {v}" for k, v in found.submissions.items()) or "none"],
            ["bootnodes reachable", f"{sum(b.reachable for b in found.bootnodes)} of {len(found.bootnodes)}"],
            [
                "stage manager",
                {True: "advancing", False: "stalled", None: "no advance yet"}[found.stage_manager_healthy],
            ],
        ]
        if found.looks_stopped:
            rows.append(["warning", "this swarm looks stopped (no progress, no live bootnode)"])
        return out.table(["", ""], rows, show_header=False)

    out.emit(found.as_dict(), human=human)
