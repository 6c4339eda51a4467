"""Entry point of the ``rlswarm`` command.

Sub-commands load lazily (see :class:`rlswarm_cli.app.RootGroup`): this module imports only Typer and
the output layer, so ``rlswarm --help`` stays fast, and each command imports what it needs when it runs.
"""

from __future__ import annotations

import os
from typing import Annotated

import typer

from rlswarm_cli.app import LazyCommand, RootGroup
from rlswarm_cli.output import Output
from rlswarm_core import __version__

# In the order an operator meets them: run a node, run several, watch, fix, publish, then set-up.
COMMANDS = (
    LazyCommand(
        "join",
        "rlswarm_cli.commands.join_cmd:join",
        "Run one node in the foreground: join the swarm, train round after round, publish and checkpoint.",
    ),
    LazyCommand(
        "instances",
        "rlswarm_cli.commands.instances:app",
        "Run several nodes on this machine: add, start, watch and stop them.",
    ),
    LazyCommand(
        "rewards",
        "rlswarm_cli.commands.rewards_cmd:rewards",
        "Show rewards for every local instance (or one, or one peer); --watch refreshes in place.",
    ),
    LazyCommand(
        "doctor",
        "rlswarm_cli.commands.doctor_cmd:doctor",
        "Check this machine's setup; exits 1 when any check finds an error.",
    ),
    LazyCommand(
        "dashboard",
        "rlswarm_cli.commands.dashboard_cmd:dashboard",
        "Serve a live dashboard of the local instances until Ctrl-C (http://127.0.0.1:8640/ by default).",
    ),
    LazyCommand(
        "alerts",
        "rlswarm_cli.commands.alerts_cmd:app",
        "Alerts from the instance supervisors: node down, not earning, chain, memory, disk.",
    ),
    LazyCommand(
        "push-hub",
        "rlswarm_cli.commands.push_hub_cmd:push_hub",
        "Push a checkpoint (the latest, the best, or one round) to the Hugging Face Hub with a model card.",
    ),
    LazyCommand("login", "rlswarm_cli.commands.login_cmd:app", "Store tokens and keys in the OS keyring."),
    LazyCommand(
        "logout",
        "rlswarm_cli.commands.login_cmd:logout",
        "Remove stored secrets (hf, wallet, proxy or all) from the keyring and the insecure file.",
    ),
    LazyCommand(
        "identity", "rlswarm_cli.commands.identity_cmd:app", "Node identities: create, import, show."
    ),
    LazyCommand(
        "profiles", "rlswarm_cli.commands.profiles_cmd:app", "Hardware presets: list, show and recommend."
    ),
    LazyCommand(
        "config",
        "rlswarm_cli.commands.config_cmd:app",
        "Settings: show resolved values, set defaults, find the files.",
    ),
    LazyCommand(
        "swarm",
        "rlswarm_cli.commands.swarm_cmd:app",
        "Host a swarm: create its file, deploy its contract, serve it, check its status.",
    ),
    LazyCommand(
        "devnet",
        "rlswarm_cli.commands.devnet_cmd:app",
        "Run a local chain with the SwarmCoordinator contract, for development and tests.",
    ),
    LazyCommand(
        "completion",
        "rlswarm_cli.commands.completion_cmd:completion",
        "Print a static completion script for bash, zsh or fish.",
    ),
)


class Root(RootGroup):
    lazy = COMMANDS


app = typer.Typer(
    name="rlswarm",
    cls=Root,
    help="Run, watch and manage RL Swarm nodes.",
    no_args_is_help=True,
    invoke_without_command=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    add_completion=False,
    # wrap help at the terminal's width instead of click's default 80 columns
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 200},
)


@app.callback()
def main(
    ctx: typer.Context,
    json_out: Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only results and errors.")] = False,
    no_color: Annotated[bool, typer.Option("--no-color", help="Disable colour (also: NO_COLOR=1).")] = False,
    version: Annotated[bool, typer.Option("--version", help="Show the version and exit.")] = False,
) -> None:
    from rlswarm_core.secrets.store import register_environment_secrets

    # a secret set in the environment is masked in everything printed, even by commands that never read it
    register_environment_secrets()
    out = Output(
        json_mode=json_out,
        quiet=quiet,
        debug=debug or bool(os.environ.get("RLSWARM_DEBUG")),
        no_color=no_color or bool(os.environ.get("NO_COLOR")),
    )
    ctx.obj = out
    if version:
        out.emit({"name": "rlswarm", "version": __version__}, f"rlswarm {__version__}")
        raise typer.Exit()
    if ctx.invoked_subcommand is None:
        from rlswarm_cli._click import click

        raise click.exceptions.UsageError("Missing command.", ctx=ctx)


def run() -> None:
    from rlswarm_core.system.paths import set_private_umask

    set_private_umask()  # every file and folder rlswarm writes is its user's alone (0600, 0700)
    app(prog_name="rlswarm")


if __name__ == "__main__":
    run()
