"""A root app with the instances and rewards commands, and helpers for their tests."""

from __future__ import annotations

import socket
from typing import Any

import typer
from typer.testing import CliRunner

from rlswarm_cli.app import RootGroup
from rlswarm_cli.commands import instances_cmd, rewards_cmd
from rlswarm_cli.output import Output

app = typer.Typer(cls=RootGroup, no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)


@app.callback()
def _root(ctx: typer.Context, json_out: bool = typer.Option(False, "--json")) -> None:
    ctx.obj = Output(json_mode=json_out, no_color=True)


app.add_typer(instances_cmd.app, name="instances")
app.command("rewards")(rewards_cmd.rewards)


def invoke(*args: str) -> Any:
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


def free_port_block(count: int) -> int:
    """The first of ``count`` consecutive free TCP ports, away from 38331 so real nodes never clash."""
    for _ in range(200):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            base = probe.getsockname()[1]
        if base + count > 65000:
            continue
        ok = True
        for port in range(base, base + count):
            with socket.socket() as sock:
                try:
                    sock.bind(("0.0.0.0", port))
                except OSError:
                    ok = False
                    break
        if ok:
            return base
    raise RuntimeError("no block of free ports")
