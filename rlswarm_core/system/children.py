"""Child processes that take no signal from the terminal and never outlive their parent.

Ctrl-C in a terminal sends SIGINT to its whole foreground process group. A child in that group (the
DHT process, p2pd, anvil) would then stop on its own, in the middle of the parent's orderly shutdown.
So every child rlswarm starts runs in a session of its own, where the terminal's signals do not reach
it; the parent alone decides when it stops. The other half: a child must notice when its parent dies
(SIGKILL, the OOM killer), since nothing will stop it then. On Linux the kernel tells it
(``PR_SET_PDEATHSIG``); everywhere, a watch thread compares ``getppid()`` with the parent it started
under.

A forced stop (a second Ctrl-C) kills the process groups registered here at once.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterable, Iterator

_PR_SET_PDEATHSIG = 1
_groups: set[int] = set()
_group_files: dict[int, tuple[str, ...]] = {}
_groups_lock = threading.Lock()


def _prctl() -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None, use_errno=True).prctl  # type: ignore[no-any-return]
    except (OSError, AttributeError):
        return None


def set_parent_death_signal(signum: int) -> bool:
    """Ask the kernel to send ``signum`` to this process when the thread that started it ends
    (Linux); False where that is not available."""
    prctl = _prctl()
    return prctl is not None and prctl(_PR_SET_PDEATHSIG, int(signum), 0, 0, 0) == 0


def isolated_preexec(death_signal: int = signal.SIGTERM) -> Callable[[], None]:
    """A ``preexec_fn`` for ``subprocess.Popen``: the child gets ``death_signal`` when its parent dies.

    Use it with ``start_new_session=True`` (the child's own session, away from the terminal's
    signals). The ``prctl`` function is looked up here, before the fork, so the child only calls it.
    The kernel ties the signal to the thread that starts the child, so it is only set up when that is
    the main thread.
    """
    # the kernel ties the signal to the starting thread: from another thread, its end would look like
    # the parent's death, so the signal is only asked for from the main thread
    prctl = _prctl() if threading.current_thread() is threading.main_thread() else None
    parent = os.getpid()

    def preexec() -> None:
        if prctl is not None:
            prctl(_PR_SET_PDEATHSIG, int(death_signal), 0, 0, 0)
        if os.getppid() != parent:  # the parent died before the call: nobody will send the signal
            os._exit(1)

    return preexec


@contextlib.contextmanager
def signals_blocked(signums: Iterable[int] = (signal.SIGINT, signal.SIGTERM)) -> Iterator[None]:
    """Block ``signums`` in the calling thread while a child is forked, so the child starts with them
    blocked and can leave the terminal's process group before any of them reaches it; a signal that
    arrives meanwhile is delivered to the parent as soon as the block ends."""
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, set(signums))
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def watch_parent(parent_pid: int, on_orphaned: Callable[[], None], interval_s: float = 0.25) -> None:
    """Call ``on_orphaned`` (from a daemon thread) once this process's parent is no longer
    ``parent_pid``: it died and this process was re-parented."""

    def watch() -> None:
        stopped = threading.Event()
        while os.getppid() == parent_pid:
            stopped.wait(interval_s)
        on_orphaned()

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


# ---- process groups to kill on a forced stop -------------------------------------------------------


def register_group(pgid: int) -> None:
    """Remember a child's process group (a child that leads its own session), for :func:`kill_groups`."""
    with _groups_lock:
        _groups.add(pgid)


def note_group_files(pgid: int, paths: Iterable[str]) -> None:
    """Files a registered group's processes would remove on a clean exit (p2pd's unix sockets): a forced
    stop kills them with SIGKILL, so :func:`kill_groups` removes these itself."""
    with _groups_lock:
        if pgid in _groups:
            _group_files[pgid] = tuple(paths)


def unregister_group(pgid: int) -> None:
    with _groups_lock:
        _groups.discard(pgid)
        _group_files.pop(pgid, None)


def kill_groups(signum: int = signal.SIGKILL) -> int:
    """Send ``signum`` to every registered group (and its leader, should it not have set up its group
    yet); the number of groups signalled."""
    with _groups_lock:
        groups = sorted(_groups)
        files = [path for pgid in groups for path in _group_files.get(pgid, ())]
    for pgid in groups:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signum)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pgid, signum)
    if signum == signal.SIGKILL:  # nobody left to remove them
        for path in files:
            with contextlib.suppress(OSError):
                os.unlink(path)
    return len(groups)


_ending = threading.Event()


def end_own_session(grace_s: float = 2.0) -> None:
    """In a session leader: SIGTERM every other process of the session (its p2pd), reap them for up to
    ``grace_s``, SIGKILL what is left, and exit. Used when the parent is gone or asks with SIGTERM; safe
    to call from any thread, and only the first call does anything (the SIGTERM sent to the session
    reaches this process too, whose handler calls here again)."""
    import time

    if _ending.is_set():
        return
    _ending.set()
    with contextlib.suppress(OSError):
        os.killpg(0, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:  # no children left
            os._exit(0)
        if pid == 0:
            time.sleep(0.02)
    with contextlib.suppress(OSError):
        os.killpg(0, signal.SIGKILL)  # this process included
    os._exit(0)
