"""``rlswarm instances plan|add|remove``: how many fit, create them, delete one."""

from __future__ import annotations

from typing import Annotated

import typer

from rlswarm_cli.app import output
from rlswarm_cli.commands.instances import app
from rlswarm_cli.options import JsonOpt, ProfileOpt

CountOpt = Annotated[int | None, typer.Option("--count", "-n", help="Instances to plan for.")]


@app.command("plan")
def plan_cmd(
    ctx: typer.Context, profile: ProfileOpt = None, count: CountOpt = None, json_flag: JsonOpt = False
) -> None:
    """Show how many instances of a profile this machine can hold and what each one would get."""
    from rlswarm_core.instances.provision import plan_for

    out = output(ctx, json_flag)
    machine, result = plan_for(profile, count)
    hw = machine.hardware
    lines = [
        f"profile {machine.name}: {result.recommended} instance(s) recommended on this machine "
        f"({hw.cpu_cores_logical} cores, {hw.memory_gb} GB)",
        f"{result.count} instance(s): {result.threads} thread(s) and {result.memory_budget_gb} GB model "
        f"budget each; about {result.memory_needed_gb} GB of {result.memory_usable_gb} GB usable",
        *[f"warning: {w}" for w in result.warnings],
    ]
    out.emit({"profile": machine.name, **result.to_dict()}, "\n".join(lines))


@app.command("add")
def add_cmd(
    ctx: typer.Context,
    profile: ProfileOpt = None,
    count: Annotated[int, typer.Option("--count", "-n", help="How many instances to create.")] = 1,
    gpu: Annotated[int | None, typer.Option("--gpu", help="Pin the instances to this GPU index.")] = None,
    port: Annotated[int | None, typer.Option("--port", help="First DHT port to try (default 38331).")] = None,
    host: Annotated[str | None, typer.Option("--host", help="Address the nodes listen on.")] = None,
    name: Annotated[str | None, typer.Option("--name", help="Name of the instance (with --count 1).")] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Create them even when the machine seems too small.")
    ] = False,
    json_flag: JsonOpt = False,
) -> None:
    """Create instances, each with its own identity, port, threads and memory budget."""
    from rlswarm_core.instances.provision import add_instances

    out = output(ctx, json_flag)
    if count < 1:
        raise typer.BadParameter("must be at least 1", param_hint="--count")
    if name is not None and count != 1:
        raise typer.BadParameter("--name names one instance; leave it out with --count", param_hint="--name")
    added = add_instances(profile=profile, count=count, gpu=gpu, port=port, host=host, name=name, force=force)
    for warning in added.warnings:
        out.warn(warning)
    from rlswarm_core.chain.shared_wallet import registered_instances

    # two instances on one wallet earn once per stage between them (the contract's rule)
    for shared in registered_instances():
        out.warn(shared.one_line())
    plan = added.plan
    lines = [
        f"created {r.name} ({r.role}, port {r.port}, {plan.threads} thread(s), "
        f"{plan.memory_budget_gb} GB{'' if r.gpu is None else f', GPU {r.gpu}'}): {r.peer_id}"
        for r in added.created
    ]
    lines.append("start them with: rlswarm instances start")
    out.emit(added.to_dict(), "\n".join(lines))


@app.command("remove")
def remove_cmd(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Instance name.")],
    delete_identity: Annotated[
        bool, typer.Option("--delete-identity", help="Also delete its identity (its history is lost).")
    ] = False,
    json_flag: JsonOpt = False,
) -> None:
    """Delete an instance (it must be stopped); its identity is kept unless --delete-identity."""
    from rlswarm_core.instances.provision import remove_instance

    remove_instance(name, delete_identity=delete_identity)
    output(ctx, json_flag).emit({"removed": name, "identity_deleted": delete_identity}, f"removed {name}")
