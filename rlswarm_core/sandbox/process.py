"""Running one sandbox process: its own session, a wall-clock limit, capped output, and a kill of its
whole process group however it ends."""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

EXIT_GRACE_S = 2.0


@dataclass(frozen=True)
class ProcessOutcome:
    stdout: bytes
    stderr: bytes
    returncode: int | None
    killed: bool  # hit the wall-clock limit
    truncated: bool  # printed more than the cap


@dataclass(frozen=True)
class RunAs:
    """The user and group a sandbox runs as (root drops to an unprivileged account)."""

    uid: int
    gid: int


def _write_all(pipe: object, data: bytes) -> None:
    with contextlib.suppress(OSError, ValueError):
        pipe.write(data)  # type: ignore[attr-defined]
    with contextlib.suppress(OSError, ValueError):
        pipe.close()  # type: ignore[attr-defined]


def _kill_tree(pid: int) -> None:
    """SIGKILL the run's process group and every process descended from it, and wait until they are
    gone: bwrap's PID 1 dies of its parent's death a moment after the parent, which must not outlive
    the call."""
    import psutil

    try:
        descendants = psutil.Process(pid).children(recursive=True)
    except psutil.Error:
        descendants = []
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
    for child in descendants:
        with contextlib.suppress(psutil.Error):
            child.kill()
    psutil.wait_procs(descendants, timeout=10)


def run_contained(
    argv: Sequence[str],
    stdin: bytes,
    wall_s: float,
    output_cap: int,
    env: Mapping[str, str],
    cwd: Path | None = None,
    run_as: RunAs | None = None,
    pass_fds: Sequence[int] = (),
) -> ProcessOutcome:
    """Run ``argv`` in a new session; whatever happens, SIGKILL its process group before reaping it.

    Killing the group before ``wait`` is safe from pid reuse: the unreaped leader keeps its id.
    """
    extra: dict[str, object] = {}
    if run_as is not None:
        extra = {"user": run_as.uid, "group": run_as.gid, "extra_groups": []}
    proc = subprocess.Popen(
        list(argv),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=dict(env),
        cwd=cwd,
        start_new_session=True,
        close_fds=True,
        pass_fds=tuple(pass_fds),
        **extra,  # type: ignore[arg-type]
    )
    writer = threading.Thread(target=_write_all, args=(proc.stdin, stdin), daemon=True)
    writer.start()
    chunks: dict[int, bytearray] = {1: bytearray(), 2: bytearray()}
    killed = truncated = False
    deadline = time.monotonic() + wall_s
    with selectors.DefaultSelector() as selector:
        assert proc.stdout is not None and proc.stderr is not None
        selector.register(proc.stdout, selectors.EVENT_READ, 1)
        selector.register(proc.stderr, selectors.EVENT_READ, 2)
        while selector.get_map():
            left = deadline - time.monotonic()
            if left <= 0:
                killed = True
                break
            for key, _ in selector.select(left):
                data = os.read(key.fd, 65536)
                if not data:
                    selector.unregister(key.fileobj)
                    continue
                buffer = chunks[key.data]
                buffer += data[: max(0, output_cap - len(buffer))]
                if len(data) and len(buffer) >= output_cap:
                    truncated = True
            if truncated:
                break
    if not (killed or truncated):
        # finished on its own: let bwrap wind its namespace down, so that nothing is orphaned
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=EXIT_GRACE_S)
    _kill_tree(proc.pid)
    returncode = proc.wait()
    writer.join(timeout=5)
    for pipe in (proc.stdout, proc.stderr):
        with contextlib.suppress(OSError):
            pipe.close()
    return ProcessOutcome(bytes(chunks[1]), bytes(chunks[2]), returncode, killed, truncated)
