"""``rlswarm instances start|stop|restart``: supervised background processes."""

from __future__ import annotations

from typing import Annotated

import typer

from rlswarm_cli.app import output
from rlswarm_cli.commands.instances import app
from rlswarm_cli.options import JsonOpt

Names = Annotated[list[str] | None, typer.Argument(help="Instance names (default: all).", show_default=False)]
StopTimeout = Annotated[
    float, typer.Option("--timeout", help="Seconds to wait for a clean stop before SIGKILL.")
]


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
    from rlswarm_core.instances.provision import resolve_names, start_instances

    out = output(ctx, json_flag)
    targets = resolve_names(names)
    if install_service:
        from rlswarm_core.instances import service

        written = [service.install(n) for n in targets]
        lines = [f"wrote {s.path}" for s in written] + ["enable with:"]
        lines += [f"  {cmd}" for s in written for cmd in s.enable]
        data = {"services": [{"path": str(s.path), "enable": s.enable} for s in written]}
        out.emit(data, "\n".join(lines))
        return
    started = start_instances(targets, out.warn)
    lines = [f"started {s['name']} (pid {s['pid']}, supervisor {s['supervisor_pid']})" for s in started]
    out.emit({"started": started}, "\n".join(lines))


@app.command("stop")
def stop_cmd(
    ctx: typer.Context, names: Names = None, timeout: StopTimeout = 30.0, json_flag: JsonOpt = False
) -> None:
    """Stop instances: SIGTERM (finish the step), then SIGKILL after --timeout."""
    from rlswarm_core.instances.provision import resolve_names, stop_instances

    out = output(ctx, json_flag)
    results = stop_instances(resolve_names(names), timeout, out.warn)
    text = "\n".join(f"{r['name']}: {'stopped' if r['stopped'] else 'was not running'}" for r in results)
    out.emit({"stopped": results}, text)


@app.command("restart")
def restart_cmd(
    ctx: typer.Context, names: Names = None, timeout: StopTimeout = 30.0, json_flag: JsonOpt = False
) -> None:
    """Stop, then start instances again."""
    from rlswarm_core.instances.provision import resolve_names, restart_instances

    out = output(ctx, json_flag)
    results = restart_instances(resolve_names(names), timeout, out.warn)
    out.emit({"restarted": results}, "\n".join(f"restarted {r['name']} (pid {r['pid']})" for r in results))
