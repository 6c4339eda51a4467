"""Build a model folder once: in a temporary sibling, renamed into place, under a file lock.

A crash or a full disk mid-build leaves no half-written folder behind, and two nodes starting together
build it once.
"""

from __future__ import annotations

import errno
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from rlswarm_core.errors import RlswarmError

COMPLETE_MARKER = ".complete"


def build_once(target: Path, build: Callable[[Path], None]) -> Path:
    from filelock import FileLock

    target = Path(target)
    if (target / COMPLETE_MARKER).is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target) + ".lock"):
        if (target / COMPLETE_MARKER).is_file():
            return target
        workdir = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
        try:
            build(workdir)
            (workdir / COMPLETE_MARKER).write_text("ok\n", encoding="utf-8")
            if target.exists():
                shutil.rmtree(target)
            workdir.rename(target)
        except OSError as exc:
            if exc.errno == errno.ENOSPC:
                raise RlswarmError(
                    f"no space left to write the model cache in {target.parent}", "free some disk space"
                ) from None
            raise
        finally:
            if workdir.exists():
                shutil.rmtree(workdir, ignore_errors=True)
    return target


def quiet_transformers() -> None:
    """Turn off transformers' progress bars: the engine never prints, and bars would land in the
    operator's terminal and logs."""
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
