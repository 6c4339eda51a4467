"""``rlswarm instances``: several supervised nodes on one machine."""

from __future__ import annotations

import time
from typing import Annotated, Any

import typer

from rlswarm_cli.app import new_app, output
from rlswarm_cli.options import JsonOpt

app = new_app("instances", "Run several nodes on this machine: add, start, watch and stop them.")

Names = Annotated[list[str] | None, typer.Argument(help="Instance names (default: all).", show_default=False)]


def _profile_values(profile: str | None) -> tuple[str, dict[str, Any], Any, list[str]]:
    """The profile's name and settings for this machine, the machine, and the configured bootstrap peers."""
    from rlswarm_core.settings import profiles
    from rlswarm_core.settings.resolve import resolve_node_settings
    from rlswarm_core.system import hardware
    from rlswarm_core.system.paths import app_paths

    hw = hardware.detect()
    resolved = resolve_node_settings({"profile": profile}, memory_gb=hw.accelerator_memory_gb)
    name = resolved.settings.profile
    prof = profiles.get_profile(name, app_paths().config / "profiles")
    values = prof.values_for(hw.accelerator_memory_gb)
    return name, values, hw, list(resolved.settings.initial_peers)


def _plain(text: str) -> Any:
    """Lines printed as they are: paths and commands must not be wrapped at the terminal's width."""

    def render(console: Any) -> None:
        for line in text.splitlines():
            console.print(line, markup=False, highlight=False, soft_wrap=True)

    return render


def _names(names: list[str] | None) -> list[str]:
    from rlswarm_core.instances import registry

    if names:
        return [registry.load(n).name for n in names]
    found = [r.name for r in registry.list_records()]
    if not found:
        from rlswarm_core.instances.registry import InstanceError

        raise InstanceError("no instances yet", "create some with 'rlswarm instances add --count N'")
    return found


@app.command("plan")
def plan_cmd(
    ctx: typer.Context,
    profile: Annotated[str | None, typer.Option("--profile", "-p", help="Hardware profile.")] = None,
    count: Annotated[int | None, typer.Option("--count", "-n", help="Instances to plan for.")] = None,
    json_flag: JsonOpt = False,
) -> None:
    """Show how many instances this machine can hold and what each one would get."""
    from rlswarm_core.instances import planner

    out = output(ctx, json_flag)
    name, values, hw, _ = _profile_values(profile)
    n = count or planner.recommend(hw, values)
    result = planner.plan(hw, values, n)
    data = {"profile": name, **result.to_dict()}
    lines = [
        f"profile {name}: {result.recommended} instance(s) recommended on this machine "
        f"({hw.cpu_cores_logical} cores, {hw.memory_gb} GB)",
        f"{n} instance(s): {result.threads} thread(s) and {result.memory_budget_gb} GB model budget each; "
        f"about {result.memory_needed_gb} GB of {result.memory_usable_gb} GB usable",
        *[f"warning: {w}" for w in result.warnings],
    ]
    out.emit(data, _plain("\n".join(lines)))


@app.command("add")
def add_cmd(
    ctx: typer.Context,
    profile: Annotated[str | None, typer.Option("--profile", "-p", help="Hardware profile.")] = None,
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
    from rlswarm_core.chain.shared_wallet import registered_instances
    from rlswarm_core.instances import planner, registry

    out = output(ctx, json_flag)
    if count < 1:
        raise typer.BadParameter("must be at least 1", param_hint="--count")
    if name is not None and count != 1:
        raise typer.BadParameter("--name names one instance; leave it out with --count", param_hint="--name")
    profile_name, values, hw, bootstrap = _profile_values(profile)
    existing = registry.list_records()
    result = planner.plan(hw, values, count, existing=len(existing), gpu=gpu)
    if not result.fits and not force:
        raise planner.CapacityError(
            result.warnings[0], "add fewer instances, or pass --force to add them anyway"
        )
    for warning in result.warnings:
        out.warn(warning)
    names = [registry.check_name(name)] if name else registry.next_names(count, {r.name for r in existing})
    ports = planner.allocate_ports(count, [r.port for r in existing], start=port)
    coordinator = next((r for r in existing if r.role == "coordinator"), None)
    public_swarm = bool(bootstrap)
    created = []
    for index, (inst, inst_port) in enumerate(zip(names, ports, strict=True)):
        record = registry.create(
            inst,
            profile=profile_name,
            port=inst_port,
            threads=result.threads,
            memory_budget_gb=result.memory_budget_gb,
            gpu=result.gpus[index],
            host=host,
            coordinator=None if public_swarm else coordinator,
        )
        if public_swarm:
            # the swarm's bootstrap peers come from the config; every instance is a follower
            record.role = "follower"
            registry.save(record)
        elif coordinator is None:
            coordinator = record
        created.append(record)
    for shared in registered_instances():
        out.warn(shared.one_line())
    data = {"created": [r.describe() for r in created], "plan": result.to_dict()}
    lines = [
        f"created {r.name} ({r.role}, port {r.port}, {result.threads} thread(s), "
        f"{result.memory_budget_gb} GB{'' if r.gpu is None else f', GPU {r.gpu}'}): {r.peer_id}"
        for r in created
    ]
    lines.append("start them with: rlswarm instances start")
    out.emit(data, _plain("\n".join(lines)))


def _uptime(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = int(seconds)
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def instance_rows() -> list[dict[str, Any]]:
    from rlswarm_core.identity.names import animal_name
    from rlswarm_core.instances import registry
    from rlswarm_core.instances.state import liveness
    from rlswarm_core.rewards.view import read_summary

    rows = []
    now = time.time()
    for record in registry.list_records():
        live = liveness(record.name)
        summary = read_summary(record.journal, record.name)
        rows.append(
            {
                "name": record.name,
                "animal_name": animal_name(record.peer_id) if record.peer_id else "",
                "peer_id": record.peer_id,
                "role": record.role,
                "pid": live.child.pid if live.child_alive and live.child else None,
                "supervisor_pid": live.supervisor.pid if live.supervisor_alive and live.supervisor else None,
                "port": record.port,
                "state": live.state,
                "round": summary.round,
                "stage": summary.stage,
                "rewards": summary.total,
                "stages_done": len(summary.stages),
                "restarts": live.restarts,
                "last_exit_code": live.last_exit_code,
                "uptime_s": round(now - live.child_started, 1) if live.child_started else None,
                "profile": record.profile,
                "gpu": record.gpu,
            }
        )
    return rows


@app.command("list")
def list_cmd(ctx: typer.Context, json_flag: JsonOpt = False) -> None:
    """Show every instance: state, pid, port, round/stage, rewards, restarts and uptime."""
    out = output(ctx, json_flag)
    rows = instance_rows()

    def render(console: Any) -> None:
        if not rows:
            console.print("no instances (create some with 'rlswarm instances add --count N')")
            return
        from rich.table import Table

        table = Table(box=None, pad_edge=False)
        # only the animal name may wrap: the other columns are short and must stay readable
        for col in ("name", "animal", "pid", "port", "state", "r/s", "rewards", "restarts", "uptime"):
            table.add_column(col, no_wrap=col != "animal", min_width=len(col))
        for r in rows:
            where = "-" if r["round"] is None else f"{r['round']}/{r['stage']}"
            table.add_row(
                r["name"],
                r["animal_name"],
                str(r["pid"] or "-"),
                str(r["port"]),
                r["state"],
                where,
                f"{r['rewards']:.3f}",
                str(r["restarts"]),
                _uptime(r["uptime_s"]),
            )
        console.print(table)

    out.emit({"instances": rows}, render)


@app.command("start")
def start_cmd(
    ctx: typer.Context,
    names: Names = None,
    install_service: Annotated[
        bool,
        typer.Option(
            "--install-service",
            help="Write a systemd user unit (Linux) or launchd agent (macOS) instead of starting now.",
        ),
    ] = False,
    json_flag: JsonOpt = False,
) -> None:
    """Start instances as supervised background processes (restarted on crash)."""
    from rlswarm_core.instances import service, supervisor

    out = output(ctx, json_flag)
    targets = _names(names)
    if install_service:
        written = [service.install(n) for n in targets]
        data = {"services": [{"path": str(s.path), "enable": s.enable} for s in written]}
        lines = [f"wrote {s.path}" for s in written] + ["enable with:"]
        lines += [f"  {cmd}" for s in written for cmd in s.enable]
        out.emit(data, _plain("\n".join(lines)))
        return
    from rlswarm_core.instances import registry

    records = {n: registry.load(n) for n in targets}
    # coordinators first, so that the followers find them when they bootstrap
    targets.sort(key=lambda n: records[n].role != "coordinator")
    followed = {r.coordinator_peer_id for r in records.values() if r.coordinator_peer_id}
    started = []
    for name in targets:
        since = time.time()
        live = supervisor.start(name)
        if records[name].peer_id in followed and not supervisor.wait_joined(name, since):
            out.warn(f"{name} has not joined its swarm yet; its followers will retry until it does")
        started.append(
            {
                "name": name,
                "supervisor_pid": live.supervisor.pid if live.supervisor else None,
                "pid": live.child.pid if live.child else None,
            }
        )
    out.emit(
        {"started": started},
        _plain(
            "\n".join(
                f"started {s['name']} (pid {s['pid']}, supervisor {s['supervisor_pid']})" for s in started
            )
        ),
    )


StopTimeout = Annotated[
    float, typer.Option("--timeout", help="Seconds to wait for a clean stop before SIGKILL.")
]


@app.command("stop")
def stop_cmd(
    ctx: typer.Context, names: Names = None, timeout: StopTimeout = 30.0, json_flag: JsonOpt = False
) -> None:
    """Stop instances: SIGTERM (finish the step), then SIGKILL after --timeout."""
    from rlswarm_core.instances import supervisor

    out = output(ctx, json_flag)
    done = supervisor.stop_many(_names(names), timeout_s=timeout, on_escalate=out.warn)
    results = [{"name": name, "stopped": was} for name, was in done.items()]
    out.emit(
        {"stopped": results},
        _plain(
            "\n".join(f"{r['name']}: {'stopped' if r['stopped'] else 'was not running'}" for r in results)
        ),
    )


@app.command("restart")
def restart_cmd(
    ctx: typer.Context, names: Names = None, timeout: StopTimeout = 30.0, json_flag: JsonOpt = False
) -> None:
    """Stop, then start instances again."""
    from rlswarm_core.instances import supervisor

    out = output(ctx, json_flag)
    targets = _names(names)
    supervisor.stop_many(targets, timeout_s=timeout, on_escalate=out.warn)
    results = []
    for name in targets:
        live = supervisor.start(name)
        results.append({"name": name, "pid": live.child.pid if live.child else None})
    out.emit(
        {"restarted": results}, _plain("\n".join(f"restarted {r['name']} (pid {r['pid']})" for r in results))
    )


@app.command("logs")
def logs_cmd(
    name: Annotated[str, typer.Argument(help="Instance name.")],
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing new lines.")] = False,
    lines: Annotated[int, typer.Option("--lines", "-n", help="How many past lines to show.")] = 50,
) -> None:
    """Print an instance's log (its node's output and the supervisor's notes); -f follows it."""
    import sys

    from rlswarm_core.instances import registry
    from rlswarm_core.instances.logfile import follow as follow_file
    from rlswarm_core.instances.logfile import last_lines
    from rlswarm_core.secrets.redact import redact

    record = registry.load(name)
    path = record.log_file
    if not path.exists() and not follow:
        raise registry.InstanceError(
            f"{name} has no log yet", f"start it with 'rlswarm instances start {name}'"
        )
    for line in last_lines(path, lines):
        sys.stdout.write(redact(line) + "\n")
    sys.stdout.flush()
    if not follow:
        return
    try:
        for line in follow_file(path):
            sys.stdout.write(redact(line) + "\n")
            sys.stdout.flush()
    except KeyboardInterrupt:
        return


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
    from rlswarm_core.instances import registry
    from rlswarm_core.instances.state import liveness

    out = output(ctx, json_flag)
    registry.load(name)
    if liveness(name).running:
        raise registry.InstanceError(
            f"instance {name!r} is running", f"stop it first: rlswarm instances stop {name}"
        )
    registry.remove(name, keep_identity=not delete_identity)
    out.emit({"removed": name, "identity_deleted": delete_identity}, _plain(f"removed {name}"))
