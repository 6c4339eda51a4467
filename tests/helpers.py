"""Small helpers shared by tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

REPO = Path(__file__).resolve().parent.parent
HEAVY_MODULES = ("torch", "transformers", "trl", "hivemind", "web3")


def cli(*args: str, input: str | None = None, env: dict[str, str] | None = None):
    """Invoke the real root app in-process; stdout and stderr are kept apart."""
    from rlswarm_cli.main import app

    return CliRunner().invoke(app, list(args), input=input, env=env, catch_exceptions=False)


def run_rlswarm(
    *args: str, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess:
    """Run ``rlswarm`` as a separate process (the installed entry point's module)."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "rlswarm_cli.main", *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=timeout,
        cwd=REPO,
    )


def heavy_imports_of(*args: str, env: dict[str, str] | None = None) -> list[str]:
    """Which heavy packages a CLI invocation imports, measured in a fresh interpreter."""
    probe = (
        "import sys, runpy\n"
        f"sys.argv = ['rlswarm', *{list(args)!r}]\n"
        "try:\n"
        "    runpy.run_module('rlswarm_cli.main', run_name='__main__')\n"
        "except SystemExit:\n"
        "    pass\n"
        f"heavy = sorted({{m.split('.')[0] for m in sys.modules}} & set({list(HEAVY_MODULES)!r}))\n"
        "sys.stderr.write('HEAVY=' + ','.join(heavy) + '\\n')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=120,
        cwd=REPO,
    )
    marker = [line for line in done.stderr.splitlines() if line.startswith("HEAVY=")]
    assert marker, f"probe did not finish: rc={done.returncode} stderr={done.stderr[-2000:]}"
    value = marker[-1].removeprefix("HEAVY=")
    return [m for m in value.split(",") if m]
