"""The one object every command prints through.

Data goes to stdout: JSON with ``--json``, else a human rendering (plain lines, tables, live views).
Messages and errors go to stderr as single lines; progress bars go to stderr and vanish when done;
``--quiet`` keeps only results and errors. ``NO_COLOR`` and a non-terminal stdout disable colour.

Every path passes through :func:`rlswarm_core.secrets.redact.redact`: strings before they are printed,
table cells before they are laid out (so a secret is never split across wrapped lines), and every
rendered line of a Rich renderable (tables, panels, live views) before it reaches the terminal.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from rlswarm_core.secrets.redact import redact
from rlswarm_core.settings.values import human_value

if TYPE_CHECKING:
    from rich.console import Console, ConsoleOptions, RenderableType, RenderResult


def _json_default(value: Any) -> Any:
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    if hasattr(value, "to_dict"):
        return value.to_dict()
    return str(value)


def to_json(data: Any, indent: int | None = 2, *, plain: bool = False) -> str:
    """``data`` as redacted JSON text (the form of every ``--json`` result).

    ``plain`` promises that ``data`` holds only dicts, lists, strings, numbers, booleans and None: it is
    then encoded by msgspec at C speed (the same JSON, but for exponents written ``1e-7`` and NaN as
    null). json's own
    encoder runs in pure Python when indenting, and a months-long ``rewards --json`` is megabytes.
    """
    import json

    if plain:
        import msgspec

        raw = msgspec.json.encode(data)
        text = (msgspec.json.format(raw, indent=indent) if indent else raw).decode()
        return redact(text if text.isascii() else _ascii_escapes(text))
    return redact(json.dumps(data, default=_json_default, indent=indent, sort_keys=False))


def _ascii_escapes(text: str) -> str:
    """Non-ASCII characters as the ``\\uXXXX`` escapes json writes (they only occur inside strings)."""
    import re

    def escape(match: re.Match[str]) -> str:
        code = ord(match.group())
        if code < 0x10000:
            return f"\\u{code:04x}"
        code -= 0x10000
        return f"\\u{0xD800 | (code >> 10):04x}\\u{0xDC00 | (code & 0x3FF):04x}"

    return re.sub(r"[^\x00-\x7f]", escape, text)


class Redacted:
    """A renderable whose every rendered line is redacted; lines without a secret keep their styles.

    Lines are neither wrapped nor cropped here: layout stays the inner renderable's and the console's.
    """

    def __init__(self, inner: RenderableType) -> None:
        self.inner = inner

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        from rich.segment import Segment

        line: list[Segment] = []
        for segment in console.render(self.inner, options):
            if segment.control or "\n" not in segment.text:
                line.append(segment)
                continue
            *complete, rest = segment.text.split("\n")
            for part in complete:
                if part:
                    line.append(Segment(part, segment.style))
                yield from _redacted_line(line)
                yield Segment.line()
                line = []
            if rest:
                line.append(Segment(rest, segment.style))
        yield from _redacted_line(line)


def _redacted_line(line: list[Any]) -> list[Any]:
    from rich.segment import Segment

    text = "".join(segment.text for segment in line if not segment.control)
    clean = redact(text)
    return line if clean == text else [Segment(clean)]


@dataclass(frozen=True)
class Col:
    """A table column: only free text (names, descriptions, values) should wrap; short fields must not."""

    header: str
    wrap: bool = False
    justify: Literal["left", "right"] = "left"
    style: str | None = None


def _cell(value: Any) -> Any:
    """A redacted cell (see :func:`human_value`); styled text keeps its style unless it held a secret."""
    from rich.text import Text

    if isinstance(value, Text):
        clean = redact(value.plain)
        return value if clean == value.plain else Text(clean, style=value.style)
    return redact(human_value(value))


class _NoProgress:
    def update(self, description: str | None = None, advance: float = 0) -> None:
        return None


class _ProgressTask:
    def __init__(self, progress: Any, task: Any) -> None:
        self._progress, self._task = progress, task

    def update(self, description: str | None = None, advance: float = 0) -> None:
        kwargs: dict[str, Any] = {"advance": advance}
        if description is not None:
            kwargs["description"] = redact(description)
        self._progress.update(self._task, **kwargs)


class LiveView:
    """A region of the terminal redrawn in place; ``refresh()`` renders it again."""

    def __init__(self, live: Any, render: Callable[[], RenderableType]) -> None:
        self._live, self._render = live, render

    def refresh(self) -> None:
        if self._live is not None:
            self._live.update(Redacted(self._render()), refresh=True)

    def print_above(self, text: str, style: str | None = None) -> None:
        """A whole line above the view, through the view's own console: a line written around the live
        display straight to the terminal would be drawn over by the next refresh."""
        if self._live is not None:
            self._live.console.print(redact(text), style=style, markup=False, soft_wrap=True)


@dataclass
class Output:
    json_mode: bool = False
    quiet: bool = False
    debug: bool = False
    no_color: bool = field(default_factory=lambda: bool(os.environ.get("NO_COLOR")))
    _console: Console | None = field(default=None, repr=False)
    _err_console: Console | None = field(default=None, repr=False)

    # ----- consoles ---------------------------------------------------------------------------------

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

    # ----- results ----------------------------------------------------------------------------------

    def emit(self, data: Any, human: Any = None, *, plain: bool = False) -> None:
        """A command's result: JSON in ``--json`` mode, else the human rendering.

        ``human`` is a string (printed as whole lines: paths and URLs are never wrapped), a Rich
        renderable (e.g. from :meth:`table`), a function returning either (only called in human mode),
        or None to print the data as JSON in both modes. ``plain``: see :func:`to_json`.
        """
        if self.json_mode or human is None:
            self._write(to_json(data, plain=plain) + "\n")
            return
        if callable(human) and not hasattr(human, "__rich_console__"):
            human = human()
        self.show(human)

    def show(self, renderable: Any) -> None:
        """Human-mode output on stdout (a string or a renderable); nothing in JSON mode."""
        if self.json_mode or renderable is None:
            return
        if isinstance(renderable, str):
            for line in renderable.splitlines() or [""]:
                self.console.print(redact(line), markup=False, soft_wrap=True)
        else:
            # soft wrap: plain lines in a rendering (paths, URLs) stay whole; tables lay out to the width
            self.console.print(Redacted(renderable), soft_wrap=True)

    def line(self, text: str, style: str | None = None) -> None:
        """A plain human line on stdout (suppressed in JSON mode, where only data is printed)."""
        if not self.json_mode:
            self.console.print(redact(text), style=style, markup=False, soft_wrap=True)

    def record(self, data: Any, text: str | None = None) -> None:
        """One item of a streamed result (a log line, an event): a JSON line, or ``text`` as it is."""
        if self.json_mode:
            self._write(to_json(data, indent=None) + "\n")
        elif text is not None:
            self._write(redact(text) + "\n")

    def raw(self, text: str) -> None:
        """Text printed exactly as it is (a script), redacted."""
        self._write(redact(text))

    def _write(self, text: str) -> None:
        sys.stdout.write(text)
        sys.stdout.flush()

    # ----- building blocks for human renderings -----------------------------------------------------

    def text(self, text: str, style: str | None = None) -> RenderableType:
        from rich.text import Text

        return Text(redact(text), style=style or "")

    def table(
        self,
        columns: Sequence[str | Col],
        rows: Sequence[Sequence[Any]],
        title: str | None = None,
        *,
        show_header: bool = True,
    ) -> RenderableType:
        """A borderless table; every cell is redacted before layout."""
        from rich.table import Table

        table = Table(
            box=None,
            pad_edge=False,
            show_header=show_header,
            title=redact(title) if title else None,
            title_justify="left",
        )
        for col in columns:
            spec = Col(col) if isinstance(col, str) else col
            table.add_column(
                spec.header,
                no_wrap=not spec.wrap,
                overflow="fold",
                justify=spec.justify,
                style=spec.style,
                min_width=len(spec.header) or 1,
            )
        for row in rows:
            table.add_row(*(_cell(cell) for cell in row))
        return table

    def group(self, *parts: RenderableType | str | None) -> RenderableType:
        from rich.console import Group

        return Group(*(self.text(p) if isinstance(p, str) else p for p in parts if p is not None))

    # ----- interaction ------------------------------------------------------------------------------

    @contextmanager
    def live(
        self,
        render: Callable[[], RenderableType],
        refresh_per_second: float = 2,
        auto_refresh: bool = False,
    ) -> Iterator[LiveView]:
        """A view redrawn in place until the block ends (``auto_refresh``: also on its own, for views
        that show elapsed time); in JSON mode nothing is drawn."""
        if self.json_mode:
            yield LiveView(None, render)
            return
        from rich.live import Live

        with Live(
            Redacted(render()),
            console=self.console,
            auto_refresh=auto_refresh,
            refresh_per_second=refresh_per_second,
            transient=False,
        ) as live:
            yield LiveView(live, render)

    @contextmanager
    def progress(self, description: str, total: float | None = None) -> Iterator[Any]:
        """A transient progress bar on stderr (none in JSON or quiet mode); yields ``update(...)``."""
        if self.json_mode or self.quiet:
            yield _NoProgress()
            return
        from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        with Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            TimeElapsedColumn(),
            console=self.err_console,
            transient=True,
        ) as bar:
            yield _ProgressTask(bar, bar.add_task(redact(description), total=total))

    def prompt(self, label: str, *, secret: bool = False, default: str | None = None) -> str:
        """Ask on the terminal (the question goes to stderr, so stdout stays data only)."""
        import typer

        return str(typer.prompt(label, hide_input=secret, default=default, err=True)).strip()

    # ----- messages ---------------------------------------------------------------------------------

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
