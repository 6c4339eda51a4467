"""Entry point of the ``rlswarm`` command.

Command modules import only Typer and light parts of :mod:`rlswarm_core` at module level; anything
heavy is imported inside the function that needs it, so ``rlswarm --help`` stays fast.
"""

from __future__ import annotations

import os
from typing import Annotated

import typer

from rlswarm_cli.app import RootGroup
from rlswarm_cli.commands import (
    completion_cmd,
    config_cmd,
    devnet_cmd,
    doctor_cmd,
    identity_cmd,
    instances_cmd,
    join_cmd,
    login_cmd,
    profiles_cmd,
    push_hub_cmd,
    rewards_cmd,
)
from rlswarm_cli.output import Output
from rlswarm_core import __version__

app = typer.Typer(
    name="rlswarm",
    cls=RootGroup,
    help="Run, watch and manage RL Swarm nodes.",
    no_args_is_help=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"rlswarm {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    ctx: typer.Context,
    json_out: Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only results and errors.")] = False,
    no_color: Annotated[bool, typer.Option("--no-color", help="Disable colour (also: NO_COLOR=1).")] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit.")
    ] = False,
) -> None:
    ctx.obj = Output(
        json_mode=json_out,
        quiet=quiet,
        debug=debug or bool(os.environ.get("RLSWARM_DEBUG")),
        no_color=no_color or bool(os.environ.get("NO_COLOR")),
    )


app.add_typer(login_cmd.app, name="login")
app.command("logout")(login_cmd.logout)
app.add_typer(profiles_cmd.app, name="profiles")
app.add_typer(identity_cmd.app, name="identity")
app.add_typer(config_cmd.app, name="config")
app.command("doctor")(doctor_cmd.doctor)
app.command("join")(join_cmd.join)
app.add_typer(devnet_cmd.app, name="devnet")
app.add_typer(instances_cmd.app, name="instances")
app.command("rewards")(rewards_cmd.rewards)
app.command("push-hub")(push_hub_cmd.push_hub)
app.command("completion")(completion_cmd.completion)


def run() -> None:
    from rlswarm_core.system.paths import set_private_umask

    set_private_umask()  # every file and folder rlswarm writes is its user's alone (0600, 0700)
    app(prog_name="rlswarm")


if __name__ == "__main__":
    run()
