"""Which Python interpreter runs inside the sandbox, and who the sandbox runs as.

The harness needs only the standard library, so the sandbox runs a bare interpreter (``-I -S``: no
site-packages, no environment variables, no user folders). It must be readable without the operator's
home folder (a pyenv or uv Python under ``~`` is skipped in favour of the system's), and, when the node
runs as root, by the unprivileged account the sandbox drops to.
"""

from __future__ import annotations

import contextlib
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from rlswarm_core.sandbox.process import RunAs

NOBODY = 65534
SYSTEM_PYTHONS = ("/usr/bin/python3", "/usr/local/bin/python3", "/opt/homebrew/bin/python3")


@dataclass(frozen=True)
class Interpreter:
    path: str
    # a folder outside /usr that the interpreter needs mounted read-only (None: it lives under /usr)
    prefix: str | None


def run_as() -> RunAs | None:
    """Root drops to ``nobody``: a process limit does not bind root, and root could read everything."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return None
    try:
        import pwd

        entry = pwd.getpwnam("nobody")
        return RunAs(entry.pw_uid, entry.pw_gid)
    except (ImportError, KeyError):
        return RunAs(NOBODY, NOBODY)


def _home_folders() -> list[Path]:
    homes = [Path("/root"), Path("/home"), Path("/Users")]
    with contextlib.suppress(RuntimeError, OSError):
        homes.append(Path.home().resolve())
    return homes


def _under_home(path: Path) -> bool:
    return any(path == home or home in path.parents for home in _home_folders())


def find_interpreter() -> Interpreter | None:
    """The node's own base interpreter when it lives outside home folders, else the system's python3."""
    base = getattr(sys, "_base_executable", None) or sys.executable
    candidates = [base, *SYSTEM_PYTHONS]
    for candidate in candidates:
        if not candidate:
            continue
        real = Path(os.path.realpath(candidate))
        if not real.is_file() or not os.access(real, os.X_OK) or _under_home(real):
            continue
        prefix = real.parent.parent
        return Interpreter(str(real), None if str(prefix).startswith("/usr") else str(prefix))
    return None
