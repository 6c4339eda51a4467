"""``rlswarm config``: see the resolved settings and where each value came from."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from rlswarm_cli.app import new_app, output
from rlswarm_cli.options import JsonOpt, ProfileOpt
from rlswarm_cli.output import Col
from rlswarm_core.settings.values import human_value

app = new_app("config", "Settings: show resolved values, set defaults, find the files.")

KeyArg = Annotated[str, typer.Argument(help="A setting name, e.g. profile or dht_port.")]


@app.command("show")
def show_cmd(ctx: typer.Context, profile: ProfileOpt = None, json_flag: JsonOpt = False) -> None:
    """Show every setting, its value and its source (flag, env, instance, config, swarm, profile, default)."""
    from rlswarm_core.settings.resolve import resolve_node_settings

    out = output(ctx, json_flag)
    rows = resolve_node_settings({"profile": profile}).as_rows()

    def human() -> Any:
        cells = [[r["name"], human_value(r["value"]), r["source"]] for r in rows]
        return out.table(["setting", Col("value", wrap=True), "source"], cells)

    out.emit({"settings": rows}, human)


@app.command("set")
def set_cmd(
    ctx: typer.Context,
    key: KeyArg,
    value: Annotated[str, typer.Argument(help="Its value (lists comma-separated).")],
    json_flag: JsonOpt = False,
) -> None:
    """Store a default in config.yaml (validated before it is written)."""
    from rlswarm_core.settings.resolve import set_user_setting

    out = output(ctx, json_flag)
    stored = set_user_setting(key, value)
    if out.json_mode:
        out.emit({"set": key, "value": stored})
    else:
        out.success(f"{key} = {human_value(stored)}")


@app.command("unset")
def unset_cmd(ctx: typer.Context, key: KeyArg, json_flag: JsonOpt = False) -> None:
    """Remove a default from config.yaml (any key, even one the file should not hold)."""
    from rlswarm_core.settings.resolve import unset_user_config

    out = output(ctx, json_flag)
    removed = unset_user_config(key)
    if out.json_mode:
        out.emit({"unset": key, "removed": removed})
    else:
        out.success(f"{key} unset" if removed else f"{key} was not set")


@app.command("paths")
def paths_cmd(ctx: typer.Context, json_flag: JsonOpt = False) -> None:
    """Show where rlswarm keeps config, data, state and logs (RLSWARM_HOME relocates them)."""
    from rlswarm_core.system.paths import app_paths

    p = app_paths()
    data = {"config": str(p.config), "data": str(p.data), "state": str(p.state), "logs": str(p.logs)}
    output(ctx, json_flag).emit(data, "\n".join(f"{k:<7} {v}" for k, v in data.items()))
