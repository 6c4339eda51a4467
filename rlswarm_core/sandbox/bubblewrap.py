"""The Linux sandbox: bubblewrap (``bwrap``) namespaces plus the harness's resource limits.

Each run gets new user, PID, network, IPC, UTS and mount namespaces. The file system is only ``/usr``
(and the Python interpreter's folder when it lives elsewhere), read-only, plus a private, size-limited
``/tmp`` that is the working folder: no home folder, no ``/etc``, no ``/proc``, no network (only the
namespace's own loopback). The sandbox's processes die with it: bwrap's PID 1 is killed when the node
kills the run, and the kernel kills every process in the namespace with it. A node running as root
drops to ``nobody`` first, so the process limit applies and nothing readable only by root is reachable.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache

from rlswarm_core.sandbox.base import Launch, Sandbox, harness_source
from rlswarm_core.sandbox.interpreter import Interpreter, find_interpreter, run_as

# top-level system folders that may be real folders or (merged /usr) symlinks into /usr
_SYSTEM_ROOTS = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")


@cache
def _supports(flag: str) -> bool:
    binary = shutil.which("bwrap")
    if binary is None:
        return False
    try:
        shown = subprocess.run([binary, "--help"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return False
    return flag in shown.stdout + shown.stderr


def _system_mounts() -> list[str]:
    args = ["--ro-bind", "/usr", "/usr"]
    for root in _SYSTEM_ROOTS:
        if os.path.islink(root):
            args += ["--symlink", os.readlink(root), root]
        elif os.path.isdir(root):
            args += ["--ro-bind", root, root]
    return args


def bwrap_argv(binary: str, interpreter: Interpreter, tmp_bytes: int) -> list[str]:
    argv = [binary, "--unshare-all", "--unshare-user", "--die-with-parent", "--new-session"]
    if _supports("--disable-userns"):
        argv.append("--disable-userns")
    argv += _system_mounts()
    if interpreter.prefix:
        argv += ["--ro-bind", interpreter.prefix, interpreter.prefix]
    argv += [
        "--dev", "/dev",
        "--size", str(tmp_bytes), "--tmpfs", "/tmp",
        "--chdir", "/tmp",
        "--clearenv",
        "--setenv", "PATH", "/usr/local/bin:/usr/bin:/bin",
        "--setenv", "HOME", "/tmp",
        "--setenv", "TMPDIR", "/tmp",
        "--setenv", "LANG", "C.UTF-8",
    ]  # fmt: skip
    return [*argv, interpreter.path, "-I", "-S", "-X", "utf8", "-c", harness_source()]


class BubblewrapSandbox(Sandbox):
    name = "bubblewrap"
    isolation = (
        "Linux namespaces (no network, private /tmp, read-only /usr only, own PID space) and resource limits"
    )

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.binary = shutil.which("bwrap") or "bwrap"
        self.interpreter = find_interpreter()
        self.run_as = run_as()

    @contextmanager
    def _launch(self) -> Iterator[Launch]:
        if self.interpreter is None:
            raise RuntimeError("no interpreter")  # availability() refuses this case first
        argv = bwrap_argv(self.binary, self.interpreter, self.limits.tmp_mb << 20)
        # bwrap gets a clean environment too: nothing of the node's (tokens, keys) reaches the sandbox
        yield Launch(argv, {"PATH": "/usr/bin:/bin"}, None, self.run_as)
