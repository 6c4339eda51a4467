"""What ``rlswarm join`` shows while its node runs: JSON lines (``--json``), a live panel (a terminal),
or plain lines (anything else). The node's runtime writes the journal and the instance log itself."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from typing import Any

from rlswarm_cli.output import Output
from rlswarm_core.node.renderer import NodeRenderer

_SHOW_CURSOR = b"\x1b[?25h"
_LIVE_STYLES = {
    "warn": ("warning: ", "yellow"),
    "error": ("error: ", "bold red"),
    "success": ("", "green"),
}


class JoinDisplay(NodeRenderer):
    def __init__(self, out: Output) -> None:
        from rlswarm_core.node.view import NodeView

        self.out = out
        self.view = NodeView()
        self.live: Any = None
        self._tty = _TerminalEcho()
        self.interactive = not out.json_mode and not out.quiet and sys.stdout.isatty()

    def event(self, event: Any) -> None:
        from rlswarm_core.node.journal import event_to_dict
        from rlswarm_core.node.lines import stamped

        self.view.apply(event)
        if self.live is not None and event.kind == "NodeStarted":
            self._announce_address()
        if self.out.json_mode:
            self.out.record(event_to_dict(event))
        elif self.live is not None:
            self.live.refresh()
        else:
            line = stamped(event)
            if line is not None:
                self.out.info(line)

    def _announce_address(self) -> None:
        """The join command once above the panel too, unwrapped, so it copies whole from any width."""
        from rlswarm_cli.panel import join_command

        command = join_command(self.view)
        if command:
            self.notice("info", f"another node joins this one with: {command}")

    def notice(self, level: str, text: str) -> None:
        live = self.live
        if live is None:
            show = {"warn": self.out.warn, "error": self.out.error, "success": self.out.success}
            show.get(level, self.out.info)(text)
            return
        # above the panel, through the panel's own console: Output's stderr console would write around
        # the live display straight to the terminal, and the next refresh would draw over the line
        prefix, style = _LIVE_STYLES.get(level, ("", None))
        live.print_above(prefix + text, style)

    @contextlib.contextmanager
    def running(self) -> Iterator[None]:
        if not self.interactive:
            yield
            return
        import time

        if not self.view.phase_since:  # the panel counts from its first frame, before the node's phases
            self.view.phase, self.view.phase_since = "loading libraries", time.time()
        self._tty = _TerminalEcho()
        self._tty.hide_control_chars()
        try:
            with self.out.live(self._panel, auto_refresh=True) as live:
                self.live = live
                yield
        finally:
            self.live = None
            self._tty.restore()

    def interrupted(self) -> None:
        # from the signal handler, right before the process exits: no Rich, no locks
        self._tty.restore()
        if self.live is not None:
            os.write(1, _SHOW_CURSOR + b"\n")
        os.write(2, b"error: interrupted\n")

    def _panel(self) -> Any:
        import psutil

        from rlswarm_cli.panel import render_panel

        memory = psutil.Process().memory_info().rss / 1024**3
        return render_panel(self.view, memory_gb=memory)


class _TerminalEcho:
    """While the panel is shown, the terminal does not echo Ctrl-C as ``^C``: the echo lands after the
    panel's last column, wraps, and leaves a stray copy of the panel's top line on the screen."""

    def __init__(self) -> None:
        self._saved: Any = None

    def hide_control_chars(self) -> None:
        try:
            import termios

            fd = sys.stdin.fileno()
            if not os.isatty(fd):
                return
            attrs = termios.tcgetattr(fd)
            self._saved = (fd, list(attrs))
            attrs[3] &= ~termios.ECHOCTL
            termios.tcsetattr(fd, termios.TCSANOW, attrs)
        except (ImportError, AttributeError, OSError, ValueError):
            self._saved = None

    def restore(self) -> None:
        if self._saved is None:
            return
        import termios

        fd, attrs = self._saved
        with contextlib.suppress(OSError):
            termios.tcsetattr(fd, termios.TCSANOW, attrs)
        self._saved = None
