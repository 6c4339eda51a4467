"""Shared pieces of the Typer app: the root group (lazy sub-commands, errors as one line) and helpers.

Sub-commands are imported only when they run: ``rlswarm --help`` lists them from a table of names and
one-line descriptions (:class:`LazyCommand`), and a test checks that table against the commands' own help.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator, MutableMapping
from typing import Any, NamedTuple

import typer
from typer.core import TyperGroup

from rlswarm_cli.options import JsonOpt
from rlswarm_cli.output import Output
from rlswarm_core.errors import RlswarmError, describe_exception

__all__ = ["EXIT_ERROR", "EXIT_INTERRUPTED", "JsonOpt", "LazyCommand", "RootGroup", "new_app", "output"]

EXIT_ERROR = 1
EXIT_INTERRUPTED = 130


class LazyCommand(NamedTuple):
    name: str
    target: str  # "module:attribute": a typer.Typer (a group) or a command function
    help: str  # the one-line description shown by --help (must match the command's own)


def load_command(spec: LazyCommand) -> Any:
    """Import a sub-command and turn it into a click command named ``spec.name``."""
    module_name, attr = spec.target.split(":")
    target = getattr(importlib.import_module(module_name), attr)
    if isinstance(target, typer.Typer):
        command = typer.main.get_group(target)
    else:
        info = typer.models.CommandInfo(name=spec.name, callback=target)
        command = typer.main.get_command_from_info(info, pretty_exceptions_short=False, rich_markup_mode=None)
    command.name = spec.name
    return command


class LazyCommands(MutableMapping[str, Any]):
    """The group's ``commands`` mapping: names are known up front, commands are imported on first use."""

    def __init__(self, specs: tuple[LazyCommand, ...], loaded: MutableMapping[str, Any]) -> None:
        self.specs = {spec.name: spec for spec in specs}
        self.loaded = dict(loaded)

    def __getitem__(self, name: str) -> Any:
        if name not in self.loaded:
            if name not in self.specs:
                raise KeyError(name)
            self.loaded[name] = load_command(self.specs[name])
        return self.loaded[name]

    def __setitem__(self, name: str, command: Any) -> None:
        self.loaded[name] = command

    def __delitem__(self, name: str) -> None:
        self.specs.pop(name, None)
        self.loaded.pop(name, None)

    def __iter__(self) -> Iterator[str]:
        yield from self.specs
        yield from (name for name in self.loaded if name not in self.specs)

    def __len__(self) -> int:
        return len(set(self.specs) | set(self.loaded))


class HelpGroup(TyperGroup):
    """A group whose command list shows each description's whole first sentence (wrapped, never cut)."""

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        rows = []
        for name in self.list_commands(ctx):
            command = self.get_command(ctx, name)
            if command is not None and not command.hidden:
                rows.append((name, command.get_short_help_str(limit=sys.maxsize)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


class RootGroup(HelpGroup):
    """The ``rlswarm`` group: lazy sub-commands, and every :class:`RlswarmError` (and, without
    ``--debug``, any exception) as one line on stderr."""

    lazy: tuple[LazyCommand, ...] = ()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.commands = LazyCommands(self.lazy, self.commands)

    def list_commands(self, ctx: Any) -> list[str]:
        return list(self.commands)  # the names alone: TyperGroup's version reads (imports) every command

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        # from the table, so that --help imports no command module
        rows = [(spec.name, spec.help) for spec in self.lazy]
        extra = [name for name in self.list_commands(ctx) if name not in {spec.name for spec in self.lazy}]
        rows += [(name, self.commands[name].get_short_help_str(limit=sys.maxsize)) for name in extra]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except RlswarmError as exc:
            out = _output_from(ctx)
            if out.debug:
                raise
            out.error(exc.one_line())
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
            out = _output_from(ctx)
            if out.debug:
                raise
            out.error(f"unexpected {describe_exception(exc)} (rerun with --debug for the traceback)")
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
        cls=HelpGroup,
        help=help_text,
        no_args_is_help=True,
        add_completion=False,
        rich_markup_mode=None,
        pretty_exceptions_enable=False,
    )
