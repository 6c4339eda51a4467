"""``rlswarm doctor``: what is wrong with this machine's setup, worst first, and how to fix it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from rlswarm_cli.app import output
from rlswarm_cli.options import JsonOpt

if TYPE_CHECKING:
    from rich.console import Console

_SYMBOLS = {"error": ("✗", "bold red"), "warning": ("!", "yellow"), "ok": ("✓", "green")}


def doctor(
    ctx: typer.Context,
    json_flag: JsonOpt = False,
    probe: Annotated[
        bool, typer.Option("--probe", help="Also import torch to confirm it sees the accelerator (slower).")
    ] = False,
    offline: Annotated[
        bool,
        typer.Option("--offline", help="Skip checks that call remote services (Hugging Face token check)."),
    ] = False,
) -> None:
    """Check this machine's setup; exits 1 when any check finds an error."""
    from rlswarm_core.doctor import diagnose, report

    out = output(ctx, json_flag)
    results = diagnose(online=not offline, probe=probe)
    data = report(results)

    out.emit(data, lambda console: _render(console, data))
    if not data["ok"]:
        raise typer.Exit(1)


def _render(console: Console, data: dict[str, Any]) -> None:
    from rich.table import Table
    from rich.text import Text

    table = Table(box=None, pad_edge=False, show_edge=False)
    table.add_column("", no_wrap=True)
    table.add_column("check", no_wrap=True)
    table.add_column("summary", overflow="fold")
    table.add_column("fix", overflow="fold")
    for row in data["checks"]:
        symbol, style = _SYMBOLS[row["status"]]
        table.add_row(Text(symbol, style=style), row["name"], Text(row["summary"]), Text(row["fix"]))
    console.print(table)
    if data["errors"] or data["warnings"]:
        verdict = f"{data['errors']} error(s), {data['warnings']} warning(s)"
    else:
        verdict = "no problems found"
    console.print(Text(verdict, style="bold red" if data["errors"] else ""))
