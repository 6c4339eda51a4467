"""Shared pieces of the Typer app: the root group that turns errors into one line, and options."""

from __future__ import annotations

import sys
from typing import Any

import typer
from typer.core import TyperGroup

from rlswarm_cli.options import JsonOpt as JsonOpt  # commands still import it from here
from rlswarm_cli.output import Output
from rlswarm_core.errors import RlswarmError
from rlswarm_core.secrets.redact import redact

EXIT_ERROR = 1
EXIT_INTERRUPTED = 130


class RootGroup(TyperGroup):
    """Maps every :class:`RlswarmError` (and, without ``--debug``, any exception) to one stderr line."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except RlswarmError as exc:
            output = _output_from(ctx)
            if output.debug:
                raise
            output.error(exc.one_line())
            sys.exit(EXIT_ERROR)
        except KeyboardInterrupt:
            _output_from(ctx).error("interrupted")
            sys.exit(EXIT_INTERRUPTED)
        except (typer.Exit, typer.Abort, SystemExit):
            raise
        except Exception as exc:
            from rlswarm_cli._click import click

            if isinstance(exc, click.exceptions.ClickException):
                raise
            output = _output_from(ctx)
            if output.debug:
                raise
            text = redact(str(exc)).splitlines()[0] if str(exc) else ""
            detail = f": {text}" if text else ""
            output.error(f"unexpected {type(exc).__name__}{detail} (rerun with --debug for the traceback)")
            sys.exit(EXIT_ERROR)


def _output_from(ctx: Any) -> Output:
    root = ctx.find_root() if ctx is not None else None
    obj = getattr(root, "obj", None)
    return obj if isinstance(obj, Output) else Output()


def output(ctx: typer.Context, json_flag: bool = False) -> Output:
    """The run's Output, with a command-level ``--json`` folded in."""
    out = _output_from(ctx)
    if json_flag:
        out.json_mode = True
    return out


def interrupt_on_sigterm() -> None:
    """Treat SIGTERM (a service manager, ``timeout``, ``kill``) like Ctrl-C, so long-running commands
    run their clean-up instead of leaving child processes behind."""
    import signal

    def raise_interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, raise_interrupt)


def new_app(name: str, help_text: str) -> typer.Typer:
    return typer.Typer(
        name=name,
        help=help_text,
        no_args_is_help=True,
        add_completion=False,
        rich_markup_mode=None,
        pretty_exceptions_enable=False,
    )
