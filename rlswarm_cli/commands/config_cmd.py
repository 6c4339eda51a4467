"""``rlswarm config``: see the resolved settings and where each value came from."""

from __future__ import annotations

from typing import Annotated

import typer

from rlswarm_cli.app import new_app, output
from rlswarm_cli.options import JsonOpt

app = new_app("config", "Settings: show resolved values, set defaults, find the files.")


@app.command("show")
def show_cmd(
    ctx: typer.Context,
    profile: Annotated[str | None, typer.Option("--profile", "-p", help="Resolve with this profile.")] = None,
    json_flag: JsonOpt = False,
) -> None:
    """Show every setting, its value and its source (flag, env, instance, config, profile, default)."""
    from rlswarm_core.settings.resolve import resolve_node_settings

    resolved = resolve_node_settings({"profile": profile})
    rows = resolved.as_rows()

    def render(console) -> None:
        from rich.table import Table

        table = Table(box=None, pad_edge=False)
        table.add_column("setting")
        table.add_column("value", overflow="fold")
        table.add_column("source")
        for r in rows:
            table.add_row(r["name"], str(r["value"]), r["source"])
        console.print(table)

    output(ctx, json_flag).emit({"settings": rows}, render)


@app.command("set")
def set_cmd(
    ctx: typer.Context,
    key: Annotated[str, typer.Argument(help="A setting name, e.g. profile or dht_port.")],
    value: Annotated[str, typer.Argument(help="Its value (lists comma-separated).")],
) -> None:
    """Store a default in config.yaml (validated before it is written)."""
    from rlswarm_core.errors import ConfigError
    from rlswarm_core.settings.model import FIELDS, NodeSettings, resolve
    from rlswarm_core.settings.resolve import load_user_config, node_settings_part, save_user_config

    if key not in FIELDS or key == "env":
        raise ConfigError(f"unknown setting {key!r}", "run 'rlswarm config show' to list the valid names")
    parsed: object = (
        [v.strip() for v in value.split(",") if v.strip()]
        if key
        in {
            "initial_peers",
            "announce_maddrs",
        }
        else value
    )
    data = load_user_config()
    candidate = {**node_settings_part(data), key: parsed}
    settings = resolve(user_config=candidate).settings
    data[key] = getattr(settings, key) if not isinstance(getattr(settings, key), list) else parsed
    if key == "profile":
        from rlswarm_core.settings.profiles import get_profile

        get_profile(str(value))
    assert isinstance(settings, NodeSettings)
    save_user_config(data)
    output(ctx).success(f"{key} = {data[key]}")


@app.command("unset")
def unset_cmd(ctx: typer.Context, key: Annotated[str, typer.Argument(help="A setting name.")]) -> None:
    """Remove a default from config.yaml."""
    from rlswarm_core.settings.resolve import update_user_config

    update_user_config(**{key: None})
    output(ctx).success(f"{key} unset")


@app.command("paths")
def paths_cmd(ctx: typer.Context, json_flag: JsonOpt = False) -> None:
    """Show where rlswarm keeps config, data, state and logs (RLSWARM_HOME relocates them)."""
    from rlswarm_core.system.paths import app_paths

    p = app_paths()
    data = {"config": str(p.config), "data": str(p.data), "state": str(p.state), "logs": str(p.logs)}
    output(ctx, json_flag).emit(data, "\n".join(f"{k:<7} {v}" for k, v in data.items()))
