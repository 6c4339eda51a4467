"""Small helpers shared by tests."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from typer.testing import Result

REPO = Path(__file__).resolve().parent.parent
HEAVY_MODULES = ("torch", "transformers", "trl", "hivemind", "web3")

# the ``cli`` fixture (tests/conftest.py): ``cli(*args, input=None, env=None)`` runs the real root app
Cli = Callable[..., Result]


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


def wait_for(condition: Callable[[], object], timeout: float = 30.0, what: str = "the condition") -> object:
    """Poll ``condition`` until it returns something truthy (returned), or fail after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        found = condition()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout:g} s")
        time.sleep(0.05)


def follows(pid: int, path: Path) -> bool:
    """Whether process ``pid`` holds ``path`` open at its end: a ``tail -f`` reader ready for new lines."""
    import psutil

    try:
        size = path.stat().st_size
        return any(Path(f.path) == path and f.position >= size for f in psutil.Process(pid).open_files())
    except (psutil.Error, OSError):
        return False


def command_leaves() -> list[tuple[tuple[str, ...], set[str]]]:
    """Every runnable command of the real root app: (its path, e.g. ("config", "set"), its option flags)."""
    import typer

    from rlswarm_cli.completion_gen import build_tree
    from rlswarm_cli.main import app

    stack, leaves = [build_tree(typer.main.get_command(app))], []
    while stack:
        node = stack.pop()
        stack.extend(node.subcommands.values())
        if node.path and not node.subcommands:
            leaves.append((node.path, {flag for flag, _ in node.options}))
    return leaves
