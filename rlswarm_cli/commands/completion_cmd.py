"""``rlswarm completion SHELL``: print the shipped static completion script."""

from __future__ import annotations

from enum import Enum
from typing import Annotated

import typer

from rlswarm_cli.app import output
from rlswarm_cli.options import JsonOpt


class Shell(str, Enum):
    bash = "bash"
    zsh = "zsh"
    fish = "fish"


def completion(
    ctx: typer.Context,
    shell: Annotated[Shell, typer.Argument(help="bash, zsh or fish.")],
    json_flag: JsonOpt = False,
) -> None:
    """Print a static completion script for bash, zsh or fish.

    Install it with, for example: rlswarm completion bash > ~/.local/share/bash-completion/completions/rlswarm
    """
    from rlswarm_cli.completion_gen import script_path
    from rlswarm_core.errors import ConfigError
    from rlswarm_core.system.resources import data_dir

    out = output(ctx, json_flag)
    path = script_path(data_dir("completions"), shell.value)
    try:
        script = path.read_text(encoding="utf-8")
    except OSError:
        raise ConfigError(
            f"completion script {path} is missing", "reinstall rlswarm; the wheel ships completions/"
        ) from None
    if out.json_mode:
        out.emit({"shell": shell.value, "path": str(path), "script": script})
    else:
        out.raw(script)
