"""``rlswarm instances list|logs``: what every instance is doing, and one instance's log."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from rlswarm_cli.app import output
from rlswarm_cli.commands.instances import app
from rlswarm_cli.options import JsonOpt
from rlswarm_cli.output import Col

NO_INSTANCES = "no instances (create some with 'rlswarm instances add --count N')"


def _uptime(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = int(seconds)
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


@app.command("list")
def list_cmd(ctx: typer.Context, json_flag: JsonOpt = False) -> None:
    """Show every instance: state, pid, port, round/stage, rewards, restarts and uptime."""
    from rlswarm_core.instances.status import instance_rows

    out = output(ctx, json_flag)
    rows = instance_rows()

    def human() -> Any:
        if not rows:
            return NO_INSTANCES
        # only the animal name may wrap: the other columns are short and must stay readable
        columns = ["name", Col("animal", wrap=True), "pid", "port", "state", "r/s", "rewards", "restarts"]
        cells = [
            [
                r["name"],
                r["animal_name"],
                r["pid"],
                r["port"],
                r["state"],
                None if r["round"] is None else f"{r['round']}/{r['stage']}",
                f"{r['rewards']:.3f}",
                r["restarts"],
                _uptime(r["uptime_s"]),
            ]
            for r in rows
        ]
        return out.table([*columns, "uptime"], cells)

    out.emit({"instances": rows}, human)


@app.command("logs")
def logs_cmd(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Instance name.")],
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing new lines.")] = False,
    lines: Annotated[int, typer.Option("--lines", "-n", help="How many past lines to show.")] = 50,
    json_flag: JsonOpt = False,
) -> None:
    """Print an instance's log (its node's output and the supervisor's notes); -f follows it."""
    from rlswarm_core.instances import registry
    from rlswarm_core.instances.logfile import follow as follow_file
    from rlswarm_core.instances.logfile import last_lines

    out = output(ctx, json_flag)
    path = registry.load(name).log_file
    if not path.exists() and not follow:
        hint = f"start it with 'rlswarm instances start {name}'"
        raise registry.InstanceError(f"{name} has no log yet", hint)
    for line in last_lines(path, lines):
        out.record({"instance": name, "line": line}, line)
    if not follow:
        return
    try:
        for line in follow_file(path):
            out.record({"instance": name, "line": line}, line)
    except KeyboardInterrupt:
        return
