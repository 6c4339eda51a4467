"""Ending processes we started: a polite SIGTERM first, SIGKILL for whatever outlives ``timeout``."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from typing import Any


def terminate_then_kill(procs: Iterable[Any], timeout: float) -> None:
    """Terminate ``procs`` (psutil processes), wait up to ``timeout``, kill the rest and reap them."""
    import psutil

    procs = list(procs)
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            proc.terminate()
    _, alive = psutil.wait_procs(procs, timeout=timeout)
    for proc in alive:
        with contextlib.suppress(psutil.Error):
            proc.kill()
    psutil.wait_procs(alive, timeout=timeout)
