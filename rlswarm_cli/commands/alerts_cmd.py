"""``rlswarm alerts``: where alerts go (webhook, Telegram, ntfy), their rules, and a test message."""

from __future__ import annotations

from typing import Annotated

import typer

from rlswarm_cli.app import new_app, output
from rlswarm_cli.commands import alerts_add_cmd
from rlswarm_cli.options import JsonOpt
from rlswarm_core.settings.values import human_value

app = new_app("alerts", "Alerts from the instance supervisors: node down, not earning, chain, memory, disk.")
app.add_typer(alerts_add_cmd.app, name="add")

NameArg = Annotated[str, typer.Argument(help="The channel's name.")]


@app.command("list")
def list_cmd(ctx: typer.Context, json_flag: JsonOpt = False) -> None:
    """Show the channels, the rules' thresholds, the active alerts and the last deliveries."""
    from rlswarm_core.alerts import state
    from rlswarm_core.alerts.config import load_config

    out = output(ctx, json_flag)
    config = load_config()
    current = state.read()
    data = {
        "channels": [c.model_dump(exclude_none=True) for c in config.channels],
        "rules": config.rules.model_dump(),
        "active": current["active"],
        "deliveries": current["deliveries"],
    }
    lines = [f"{c.name}: {c.kind} → {c.target}" for c in config.channels] or [
        "no channels (add one with 'rlswarm alerts add webhook|telegram|ntfy NAME')"
    ]
    for name, entry in current["deliveries"].items():
        if entry.get("last_error"):
            lines.append(f"warning: last delivery to {name} failed: {entry['last_error']}")
    lines += ["rules:", *(f"  {k}: {human_value(v)}" for k, v in config.rules.model_dump().items())]
    lines += [f"active: {key}: {entry.get('detail', '')}" for key, entry in current["active"].items()]
    out.emit(data, "\n".join(lines))


@app.command("remove")
def remove_cmd(ctx: typer.Context, name: NameArg, json_flag: JsonOpt = False) -> None:
    """Remove a channel and its secret."""
    from rlswarm_core.alerts.config import load_config, save_config
    from rlswarm_core.secrets.store import SecretStore, alert_channel_key

    out = output(ctx, json_flag)
    config = load_config()
    channel = config.channel(name)
    config.channels = [c for c in config.channels if c.name != channel.name]
    save_config(config)
    removed = SecretStore().delete(alert_channel_key(name)) if channel.has_secret else []
    out.emit({"removed": name, "secret_removed_from": removed}, f"removed channel {name}")


@app.command("test")
def test_cmd(
    ctx: typer.Context,
    name: Annotated[str | None, typer.Argument(help="Only this channel (default: all).")] = None,
    json_flag: JsonOpt = False,
) -> None:
    """Send a test message to every channel (or one) now, and say whether it arrived."""
    from rlswarm_core.alerts.channels import Notice, send
    from rlswarm_core.alerts.config import load_config
    from rlswarm_core.errors import RlswarmError

    out = output(ctx, json_flag)
    config = load_config()
    channels = [config.channel(name)] if name else config.channels
    if not channels:
        raise RlswarmError(
            "no alert channels yet", "add one with 'rlswarm alerts add webhook|telegram|ntfy NAME'"
        )
    notice = Notice("test", "test", "", "rlswarm test alert", "alerts from this machine reach this channel")
    results = []
    for channel in channels:
        try:
            send(channel, notice)
            results.append({"channel": channel.name, "ok": True, "error": None})
        except RlswarmError as exc:
            results.append({"channel": channel.name, "ok": False, "error": exc.one_line()})
    out.emit(
        {"results": results},
        "\n".join(f"{r['channel']}: {'delivered' if r['ok'] else r['error']}" for r in results),
    )
    if not all(r["ok"] for r in results):
        raise typer.Exit(1)


@app.command("rules")
def rules_cmd(
    ctx: typer.Context,
    set_values: Annotated[
        list[str] | None, typer.Option("--set", help="KEY=VALUE, e.g. stall_rounds=5 (0 turns a rule off).")
    ] = None,
    json_flag: JsonOpt = False,
) -> None:
    """Show the rules' thresholds, or change them with --set KEY=VALUE."""
    from pydantic import ValidationError

    from rlswarm_core.alerts.config import Rules, load_config, save_config

    out = output(ctx, json_flag)
    config = load_config()
    values = config.rules.model_dump()
    for item in set_values or []:
        key, sep, value = item.partition("=")
        if not sep or key not in Rules.model_fields:
            raise typer.BadParameter(
                f"use KEY=VALUE with KEY one of: {', '.join(Rules.model_fields)}", param_hint="--set"
            )
        values[key] = None if value.lower() in ("", "none", "null") else value
    if set_values:
        try:
            config.rules = Rules(**values)
        except ValidationError as exc:
            first = exc.errors()[0]
            raise typer.BadParameter(f"{first['loc'][0]}: {first['msg']}", param_hint="--set") from None
        save_config(config)
    data = config.rules.model_dump()
    out.emit({"rules": data}, "\n".join(f"{k}: {human_value(v)}" for k, v in data.items()))
