"""``rlswarm instances``: several supervised nodes on one machine."""

from __future__ import annotations

from rlswarm_cli.app import new_app

app = new_app("instances", "Run several nodes on this machine: add, start, watch and stop them.")

# the sub-commands register themselves on ``app``; --help lists them in the order they are used
from rlswarm_cli.commands.instances import lifecycle, setup, watch  # noqa: E402

_ORDER = ("plan", "add", "list", "start", "stop", "restart", "logs", "remove")
app.registered_commands.sort(key=lambda info: _ORDER.index(info.name or ""))

__all__ = ["app", "lifecycle", "setup", "watch"]
