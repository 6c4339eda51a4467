"""The click that Typer runs on: recent Typer releases vendor it as ``typer._click``."""

from __future__ import annotations

try:
    from typer import _click as click  # type: ignore[attr-defined]
except ImportError:  # Typer releases that still depend on click itself
    import click  # type: ignore[no-redef]

__all__ = ["click"]
