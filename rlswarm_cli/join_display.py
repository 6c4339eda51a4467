"""What ``rlswarm join`` shows while its node runs: JSON lines (``--json``), a live panel (a terminal),
or plain lines (anything else). The node's runtime writes the journal and the instance log itself."""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Iterator
from typing import Any

from rlswarm_cli.output import Output
from rlswarm_core.node.renderer import NodeRenderer
from rlswarm_core.secrets.redact import redact

_SHOW_CURSOR = b"\x1b[?25h"


class JoinDisplay(NodeRenderer):
    def __init__(self, out: Output) -> None:
        from rlswarm_core.node.view import NodeView

        self.out = out
        self.view = NodeView()
        self.live: Any = None
        self.interactive = not out.json_mode and not out.quiet and sys.stdout.isatty()

    def event(self, event: Any) -> None:
        from rlswarm_core.node.journal import event_to_dict
        from rlswarm_core.node.lines import stamped

        self.view.apply(event)
        if self.out.json_mode:
            sys.stdout.write(redact(json.dumps(event_to_dict(event), default=str)) + "\n")
            sys.stdout.flush()
        elif self.live is not None:
            self.live.update(self._panel())
        elif not self.out.quiet:
            line = stamped(event)
            if line is not None:
                sys.stderr.write(redact(line) + "\n")
                sys.stderr.flush()

    def notice(self, level: str, text: str) -> None:
        show = {"warn": self.out.warn, "error": self.out.error, "success": self.out.success}
        show.get(level, self.out.info)(text)

    @contextlib.contextmanager
    def running(self) -> Iterator[None]:
        if self.interactive:
            from rich.live import Live

            self.live = Live(self._panel(), console=self.out.console, refresh_per_second=2, transient=False)
            self.live.__enter__()
        try:
            yield
        finally:
            if self.live is not None:
                self.live.__exit__(None, None, None)
                self.live = None

    def interrupted(self) -> None:
        # from the signal handler, right before the process exits: no Rich, no locks
        if self.live is not None:
            os.write(1, _SHOW_CURSOR + b"\n")
        os.write(2, b"error: interrupted\n")

    def _panel(self) -> Any:
        import psutil

        from rlswarm_cli.panel import render_panel

        memory = psutil.Process().memory_info().rss / 1024**3
        return render_panel(self.view, memory_gb=memory)
