"""``rlswarm completion SHELL``: print the shipped static completion script."""

from __future__ import annotations

import sys
from enum import Enum
from typing import Annotated

import typer


class Shell(str, Enum):
    bash = "bash"
    zsh = "zsh"
    fish = "fish"


def completion(shell: Annotated[Shell, typer.Argument(help="bash, zsh or fish.")]) -> None:
    """Print a static completion script for bash, zsh or fish.

    Install it with, for example: rlswarm completion bash > ~/.local/share/bash-completion/completions/rlswarm
    """
    from rlswarm_cli.completion_gen import script_path
    from rlswarm_core.errors import ConfigError
    from rlswarm_core.system.resources import data_dir

    path = script_path(data_dir("completions"), shell.value)
    try:
        sys.stdout.write(path.read_text(encoding="utf-8"))
    except OSError:
        raise ConfigError(
            f"completion script {path} is missing", "reinstall rlswarm; the wheel ships completions/"
        ) from None
