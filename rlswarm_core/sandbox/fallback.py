"""The weaker sandbox, for machines without bubblewrap (macOS, containers without user namespaces):
only an opt-in (``code_sandbox: rlimits``) turns it on.

What it does: a separate process in its own session, the harness's resource limits (CPU, memory where
the OS enforces it, processes, file size, open files), a per-test and a whole-run time limit, a
private temporary working folder removed afterwards, an environment with nothing of the node's, and,
for a node running as root, the unprivileged ``nobody`` account.

What it does not do: block the network; hide files the account can read (the operator's home folder,
when the node does not run as root); stop a process that starts its own session from outliving the
run. macOS does not enforce the memory limit (``RLIMIT_AS``); the report lists limits not applied.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from rlswarm_core.sandbox.base import Launch, Sandbox, harness_source
from rlswarm_core.sandbox.interpreter import find_interpreter, run_as
from rlswarm_core.sandbox.process import RunAs

TEMP_PREFIX = "rlswarm-sandbox-"


def _processes_of(uid: int) -> int:
    import psutil

    count = 0
    for proc in psutil.process_iter(["uids"]):
        uids = proc.info.get("uids")
        if uids is not None and uids.real == uid:
            count += 1
    return count


def _remove_tree(path: Path) -> None:
    """Remove what the code left, even folders it made unreadable or read-only."""

    def fix(func: object, target: str, _exc: object) -> None:
        with contextlib.suppress(OSError):
            os.chmod(os.path.dirname(target), stat.S_IRWXU)
            os.chmod(target, stat.S_IRWXU)
        with contextlib.suppress(OSError):
            if os.path.isdir(target) and not os.path.islink(target):
                shutil.rmtree(target, ignore_errors=True)
            else:
                os.unlink(target)

    if sys.version_info >= (3, 12):
        shutil.rmtree(path, onexc=fix)
    else:
        shutil.rmtree(path, onerror=fix)


class RlimitSandbox(Sandbox):
    name = "rlimits"
    isolation = (
        "resource limits, a private working folder and a separate account when run as root; "
        "no network or file-system isolation"
    )

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.interpreter = find_interpreter()
        self.run_as = run_as()

    def _payload_limits(self, who: RunAs | None) -> dict[str, object]:
        limits = dict(self.limits.for_harness())
        # without a user namespace the process limit counts every process of the account
        uid = who.uid if who is not None else os.getuid()
        limits["processes"] = self.limits.processes + _processes_of(uid)
        return limits

    @contextmanager
    def _launch(self) -> Iterator[Launch]:
        if self.interpreter is None:
            raise RuntimeError("no interpreter")
        folder = Path(tempfile.mkdtemp(prefix=TEMP_PREFIX))
        try:
            if self.run_as is not None:
                os.chown(folder, self.run_as.uid, self.run_as.gid)
            env = {
                "PATH": "/usr/local/bin:/usr/bin:/bin",
                "HOME": str(folder),
                "TMPDIR": str(folder),
                "LANG": "C.UTF-8",
            }
            argv = [self.interpreter.path, "-I", "-S", "-X", "utf8", "-c", harness_source()]
            yield Launch(argv, env, folder, self.run_as)
        finally:
            _remove_tree(folder)
