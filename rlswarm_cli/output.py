"""The one object every command prints through.

Data goes to stdout (as JSON with ``--json``, else rendered with Rich); messages and errors go to
stderr as single lines. ``NO_COLOR`` and a non-terminal stdout disable colour. Every line passes
through :func:`rlswarm_core.secrets.redact.redact` so a secret can never be printed by accident.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from rlswarm_core.secrets.redact import redact

if TYPE_CHECKING:
    from rich.console import Console


def _json_default(value: Any) -> Any:
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    if hasattr(value, "to_dict"):
        return value.to_dict()
    return str(value)


@dataclass
class Output:
    json_mode: bool = False
    quiet: bool = False
    debug: bool = False
    no_color: bool = field(default_factory=lambda: bool(os.environ.get("NO_COLOR")))
    _console: Console | None = field(default=None, repr=False)
    _err_console: Console | None = field(default=None, repr=False)

    def _make_console(self, stderr: bool) -> Console:
        from rich.console import Console

        # NO_COLOR users want plain text, not bold and underline either: drop styling entirely.
        kwargs: dict[str, Any] = {"color_system": None} if self.no_color else {}
        return Console(stderr=stderr, no_color=self.no_color, highlight=False, soft_wrap=False, **kwargs)

    @property
    def console(self) -> Console:
        if self._console is None:
            self._console = self._make_console(stderr=False)
        return self._console

    @property
    def err_console(self) -> Console:
        if self._err_console is None:
            self._err_console = self._make_console(stderr=True)
        return self._err_console

    def emit(self, data: Any, human: Callable[[Console], None] | str | None = None) -> None:
        """Print a command's result: JSON in ``--json`` mode, else the human rendering."""
        if self.json_mode:
            sys.stdout.write(
                redact(json.dumps(data, default=_json_default, indent=2, sort_keys=False)) + "\n"
            )
            sys.stdout.flush()
            return
        if human is None:
            sys.stdout.write(redact(json.dumps(data, default=_json_default, indent=2)) + "\n")
        elif isinstance(human, str):
            self.console.print(redact(human), markup=False)
        else:
            human(self.console)

    def line(self, text: str, style: str | None = None) -> None:
        """A plain human line on stdout (suppressed in JSON mode, where only data is printed)."""
        if self.json_mode:
            return
        self.console.print(redact(text), style=style, markup=False)

    def info(self, text: str) -> None:
        if not self.quiet:
            self.err_console.print(redact(text), markup=False, soft_wrap=True)

    def success(self, text: str) -> None:
        if not self.quiet:
            self.err_console.print(redact(text), style="green", markup=False, soft_wrap=True)

    def warn(self, text: str) -> None:
        self.err_console.print("warning: " + redact(text), style="yellow", markup=False, soft_wrap=True)

    def error(self, text: str) -> None:
        self.err_console.print("error: " + redact(text), style="bold red", markup=False, soft_wrap=True)
