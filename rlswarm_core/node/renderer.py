"""Where a running node's output goes: the caller's renderer.

The runtime writes the journal and the instance log itself; a renderer is what the caller shows on top
(``rlswarm join``'s live panel, plain lines or JSON lines live in the command-line package). Subclass
:class:`NodeRenderer` and override what you need; :class:`LineRenderer` writes plain lines.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from typing import Any


class NodeRenderer:
    """Shows nothing; every method may be overridden."""

    def event(self, event: Any) -> None:
        """Every node event (see :mod:`rlswarm_core.node.events`), from the thread that emitted it."""

    def notice(self, level: str, text: str) -> None:
        """A message for the operator; ``level`` is info, success, warn or error."""

    def running(self) -> contextlib.AbstractContextManager[Any]:
        """Entered while the node runs (where a live display belongs)."""
        return contextlib.nullcontext()

    def interrupted(self) -> None:
        """A second Ctrl-C forces the stop: called from the signal handler right before the process
        exits, so write with ``os.write`` and take no locks."""
        os.write(2, b"error: interrupted\n")


class LineRenderer(NodeRenderer):
    """Events and notices as plain lines, through ``write`` (``print`` by default)."""

    def __init__(self, write: Callable[[str], Any] = print) -> None:
        self.write = write

    def event(self, event: Any) -> None:
        from rlswarm_core.node.lines import stamped

        line = stamped(event)
        if line is not None:
            self.write(line)

    def notice(self, level: str, text: str) -> None:
        self.write(text if level in ("info", "success") else f"{level}: {text}")
