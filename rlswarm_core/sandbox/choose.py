"""Picking the sandbox for model-written code, and refusing to run code without one.

``auto`` (the default) uses bubblewrap when it works on this machine and otherwise refuses, naming the
fix; ``bubblewrap`` requires it; ``rlimits`` is the operator's explicit opt-in to the weaker fallback.
Whether bubblewrap works is tested once per process by running a real job through it (installed is not
enough: containers and some distributions forbid the user namespaces it needs).
"""

from __future__ import annotations

import logging
import shutil
import sys
import threading
from typing import Literal

from rlswarm_core.errors import ConfigError
from rlswarm_core.sandbox.base import Sandbox
from rlswarm_core.sandbox.limits import SandboxLimits, TestJob

SandboxMode = Literal["auto", "bubblewrap", "rlimits"]
MODES: tuple[str, ...] = ("auto", "bubblewrap", "rlimits")
_OPT_IN = "or set code_sandbox: rlimits to accept the weaker fallback (no network or file isolation)"

_log = logging.getLogger(__name__)
_probed: dict[str, str | None] = {}
_probe_lock = threading.Lock()


class SandboxUnavailable(ConfigError):
    """No sandbox fit to run model-written code on this machine, and no opt-in to the fallback."""


def _probe(sandbox: Sandbox) -> str | None:
    """None when a trivial job passes (and a failing one fails) in ``sandbox``; else why not."""
    with _probe_lock:
        if sandbox.name not in _probed:
            job = TestJob(solution="x = 1", tests=({"code": "assert x == 1"}, {"code": "assert x == 2"}))
            report = sandbox.run(job)
            if report.passed == (True, False):
                _probed[sandbox.name] = None
            else:
                _probed[sandbox.name] = report.error or f"a test job came back as {list(report.outcomes)}"
        return _probed[sandbox.name]


def bubblewrap_problem() -> str | None:
    """Why bubblewrap cannot be used here, or None when it works."""
    if not sys.platform.startswith("linux"):
        return f"bubblewrap needs Linux (this is {sys.platform})"
    if shutil.which("bwrap") is None:
        return "bubblewrap (bwrap) is not installed"
    from rlswarm_core.sandbox.bubblewrap import BubblewrapSandbox

    sandbox = BubblewrapSandbox()
    if sandbox.interpreter is None:
        return "no Python interpreter outside home folders for the sandbox (install python3)"
    problem = _probe(sandbox)
    return f"bubblewrap does not run here: {problem}" if problem else None


def open_sandbox(mode: str = "auto", limits: SandboxLimits | None = None) -> Sandbox:
    """The sandbox for ``mode``; :class:`SandboxUnavailable` when it cannot be had."""
    if mode not in MODES:
        raise ConfigError(f"unknown code_sandbox {mode!r}", f"use one of: {', '.join(MODES)}")
    if mode == "rlimits":
        from rlswarm_core.sandbox.fallback import RlimitSandbox

        fallback = RlimitSandbox(limits)
        if fallback.interpreter is None:
            raise SandboxUnavailable("no Python interpreter outside home folders for the sandbox")
        problem = _probe(fallback)
        if problem is not None:
            raise SandboxUnavailable(f"the rlimits sandbox does not run here: {problem}")
        _log.warning("model-written code runs in the weaker rlimits sandbox: %s", fallback.isolation)
        return fallback
    problem = bubblewrap_problem()
    if problem is not None:
        hint = "install it (apt install bubblewrap, or your distribution's package), " + _OPT_IN
        if "does not run here" in problem:
            hint = (
                "allow unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1), " + _OPT_IN
            )
        raise SandboxUnavailable(f"no sandbox for model-written code: {problem}", hint)
    from rlswarm_core.sandbox.bubblewrap import BubblewrapSandbox

    return BubblewrapSandbox(limits)
