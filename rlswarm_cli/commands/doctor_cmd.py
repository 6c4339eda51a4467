"""``rlswarm doctor``: what is wrong with this machine's setup, worst first, and how to fix it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from rlswarm_cli.app import output
from rlswarm_cli.options import JsonOpt

if TYPE_CHECKING:
    from rlswarm_cli.output import Output

_SYMBOLS = {"error": ("✗", "bold red"), "warning": ("!", "yellow"), "ok": ("✓", "green")}


def doctor(
    ctx: typer.Context,
    json_flag: JsonOpt = False,
    probe: Annotated[
        bool,
        typer.Option(
            "--probe",
            help="Also import torch to confirm it sees the accelerator, and ask a bootnode to dial the DHT "
            "port back (slower).",
        ),
    ] = False,
    offline: Annotated[
        bool,
        typer.Option("--offline", help="Skip checks that call remote services (Hugging Face token check)."),
    ] = False,
    swarm: Annotated[
        str | None,
        typer.Option(
            "--swarm",
            help="Swarm file (path or https URL) the node joins: is the swarm served, and can its "
            "bootnodes dial this node?",
        ),
    ] = None,
) -> None:
    """Check this machine's setup; exits 1 when any check finds an error."""
    from rlswarm_core.doctor import diagnose, report

    out = output(ctx, json_flag)
    data = report(diagnose(online=not offline, probe=probe, swarm=swarm))
    out.emit(data, lambda: _view(out, data))
    if not data["ok"]:
        raise typer.Exit(1)


def _view(out: Output, data: dict[str, Any]) -> Any:
    from rlswarm_cli.output import Col

    rows = []
    for row in data["checks"]:
        symbol, style = _SYMBOLS[row["status"]]
        rows.append([out.text(symbol, style=style), row["name"], row["summary"], row["fix"]])
    table = out.table(["", "check", Col("summary", wrap=True), Col("fix", wrap=True)], rows)
    if data["errors"] or data["warnings"]:
        verdict = f"{data['errors']} error(s), {data['warnings']} warning(s)"
    else:
        verdict = "no problems found"
    return out.group(table, out.text(verdict, style="bold red" if data["errors"] else None))
