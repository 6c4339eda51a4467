"""The Linux sandbox: bubblewrap (``bwrap``) namespaces plus the harness's resource limits.

Each run gets new user, PID, network, IPC, UTS and mount namespaces. The file system is only ``/usr``
(and the Python interpreter's folder when it lives elsewhere), read-only, plus a private, size-limited
``/tmp`` that is the working folder: no home folder, no ``/etc``, no ``/proc``, no network (only the
namespace's own loopback). The sandbox's processes die with it: bwrap's PID 1 is killed when the node
kills the run, and the kernel kills every process in the namespace with it. A node running as root
drops to ``nobody`` first, so the process limit applies and nothing readable only by root is reachable.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache

from rlswarm_core.sandbox.base import Launch, Sandbox, harness_source
from rlswarm_core.sandbox.interpreter import Interpreter, find_interpreter, run_as

# how long the kernel may take to kill what is left in a finished sandbox's namespace
SETTLE_S = 10.0

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


def wait_for_namespace(info_fd: int) -> None:
    """Wait until the sandbox's PID 1 has exited, which the kernel allows only once every process in
    its namespace is dead. (bwrap itself may exit first: its PID 1 reports the command's exit status
    before the namespace is torn down.)"""
    ready, _, _ = select.select([info_fd], [], [], SETTLE_S)
    raw = os.read(info_fd, 65536) if ready else b""
    try:
        pid = int(json.loads(raw.decode("utf-8", "replace") or "{}").get("child-pid", 0))
    except (ValueError, TypeError, AttributeError):
        return
    if pid <= 0:
        return
    try:
        handle = os.pidfd_open(pid)
    except (OSError, AttributeError):  # already gone, or no pidfd (Linux before 5.3)
        _poll_until_gone(pid)
        return
    try:
        select.select([handle], [], [], SETTLE_S)
    finally:
        os.close(handle)


def _poll_until_gone(pid: int) -> None:
    import psutil

    with contextlib.suppress(psutil.Error):
        process = psutil.Process(pid)
        deadline = time.monotonic() + SETTLE_S
        while process.status() != psutil.STATUS_ZOMBIE and time.monotonic() < deadline:
            time.sleep(0.01)


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
        # bwrap reports the host pid of the namespace's PID 1 on this pipe
        info_read, info_write = os.pipe()
        # each descriptor is closed exactly once: closing one twice would close whatever another thread's
        # sandbox got under the same number in between (runs score replies in parallel)
        open_fds = {info_read, info_write}

        def close(fd: int) -> None:
            if fd in open_fds:
                open_fds.discard(fd)
                with contextlib.suppress(OSError):
                    os.close(fd)

        try:
            argv = bwrap_argv(self.binary, self.interpreter, self.limits.tmp_mb << 20)
            argv[1:1] = ["--info-fd", str(info_write)]

            def settle() -> None:
                close(info_write)
                wait_for_namespace(info_read)

            # bwrap gets a clean environment too: nothing of the node's (tokens, keys) reaches the sandbox
            yield Launch(argv, {"PATH": "/usr/bin:/bin"}, None, self.run_as, (info_write,), settle)
        finally:
            close(info_read)
            close(info_write)
