"""What a test session left behind: processes it started that still run, and hivemind sockets it made.

Processes: the session puts a marker into its environment at start; every process a test starts inherits
it, even one re-parented after its parent died (a p2pd or anvil orphaned by a SIGKILLed node), so the
marker finds them at the end. Children of the session process are leftovers too, marker or not.

Sockets: ``/tmp/hivemind-*`` files that appeared during the run and that nobody has bound any more at its
end (``/proc/net/unix``), left by a node that died without cleaning up. hivemind hard-codes ``/tmp``, so
another test session or node on the same machine makes such files too: a watcher notes, twice a second,
which ``p2pd`` daemons run and whose they are (by the marker). A dead socket of one of this session's
daemons is a leak; one of another's is not ours; one nobody saw a daemon for counts as ours only when no
foreign daemon ran during the session (as in CI), and is reported as a warning otherwise.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import psutil

# not RLSWARM_*: the per-test fixture clears those
MARKER = "PYTEST_RLSWARM_SESSION"
SOCKET_GLOB = "hivemind-*"
SOCKET_DIR = Path("/tmp")
WATCH_INTERVAL_S = 0.5
# helpers that outlive a test by design and end on their own: tmux's server exits with its last session
# (other test sessions may have sessions on it); torch's shared-memory manager exits with its last
# client, which may be this session's own process (a leaked client shows up by itself)
_SELF_ENDING = frozenset({"tmux", "tmux: server", "torch_shm_manager"})


def _marker_of(proc: psutil.Process) -> str | None:
    try:
        return proc.environ().get(MARKER)
    except (psutil.Error, OSError):
        return None


def _listen_socket(cmdline: list[str]) -> Path | None:
    for arg in cmdline:
        if arg.startswith("-listen=/unix/"):
            return Path(arg.removeprefix("-listen=/unix"))
    return None


class Watch:
    """The session's marker, the sockets that existed before it, and who ran ``p2pd`` daemons during it."""

    def __init__(self) -> None:
        self.token = uuid.uuid4().hex
        os.environ[MARKER] = self.token
        self.sockets_before = frozenset(SOCKET_DIR.glob(SOCKET_GLOB))
        self.ours: dict[Path, str] = {}  # socket -> the test running when its daemon was first seen
        self.current_test = "session start"
        self.foreign: set[Path] = set()
        self.foreign_daemons = False
        self._seen: set[int] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="leak-watch", daemon=True)
        self._thread.start()

    def _look(self) -> None:
        for proc in psutil.process_iter(["name"]):
            if proc.info["name"] != "p2pd" or proc.pid in self._seen:
                continue
            try:
                listen = _listen_socket(proc.cmdline())
            except psutil.Error:
                continue
            self._seen.add(proc.pid)
            mine = _marker_of(proc) == self.token
            if not mine:
                self.foreign_daemons = True
            if listen is not None and mine:
                self.ours.setdefault(listen, self.current_test)
            elif listen is not None:
                self.foreign.add(listen)

    def _run(self) -> None:
        while not self._stop.wait(WATCH_INTERVAL_S):
            with contextlib.suppress(Exception):
                self._look()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        with contextlib.suppress(Exception):
            self._look()


@dataclass
class Leftovers:
    processes: list[psutil.Process] = field(default_factory=list)
    sockets: dict[Path, str] = field(default_factory=dict)  # socket -> where it came from
    unclear: list[Path] = field(default_factory=list)  # dead sockets that may be another session's

    def __bool__(self) -> bool:
        return bool(self.processes or self.sockets)

    def describe(self) -> list[str]:
        lines = []
        for proc in self.processes:
            with contextlib.suppress(psutil.Error):
                cmd = " ".join(proc.cmdline())[:200] or proc.name()
                lines.append(f"process {proc.pid} ({proc.name()}): {cmd}")
        lines += [f"socket {path} (nobody listens on it; {origin})" for path, origin in self.sockets.items()]
        return lines


def _our_processes(token: str) -> list[psutil.Process]:
    me = psutil.Process()
    found = {p.pid: p for p in me.children(recursive=True)}
    for proc in psutil.process_iter(["name"]):
        if proc.pid != me.pid and proc.pid not in found and _marker_of(proc) == token:
            found[proc.pid] = proc
    alive = []
    for proc in found.values():
        with contextlib.suppress(psutil.Error):
            if proc.status() != psutil.STATUS_ZOMBIE and proc.name() not in _SELF_ENDING:
                alive.append(proc)
    return alive


def _bound_unix_paths() -> set[str]:
    """Paths of the unix sockets some process has bound now (``/proc/net/unix``), without touching them."""
    paths = set()
    with contextlib.suppress(OSError), open("/proc/net/unix", encoding="utf-8", errors="replace") as table:
        next(table, None)
        for line in table:
            parts = line.split()
            if len(parts) >= 8:
                paths.add(parts[7])
    return paths


def _look_once(watch: Watch) -> Leftovers:
    bound = _bound_unix_paths()
    found = Leftovers(_our_processes(watch.token))
    for path in sorted(SOCKET_DIR.glob(SOCKET_GLOB)):
        if path in watch.sockets_before or str(path) in bound or path in watch.foreign:
            continue
        if path in watch.ours:
            found.sockets[path] = f"its p2pd started during {watch.ours[path]}"
        elif not watch.foreign_daemons:
            found.sockets[path] = "no other session's p2pd ran meanwhile"
        else:
            found.unclear.append(path)
    return found


def find_leftovers(watch: Watch, grace_s: float = 15.0) -> Leftovers:
    """Leftovers still there after ``grace_s`` (a node's clean-up may finish just after its test)."""
    watch.stop()
    deadline = time.monotonic() + grace_s
    while True:
        found = _look_once(watch)
        if not found or time.monotonic() >= deadline:
            return found
        if found.processes:
            psutil.wait_procs(found.processes, timeout=min(1.0, max(0.0, deadline - time.monotonic())))
        else:
            time.sleep(0.2)  # only sockets: give a stopping node's clean-up a moment


def clean_up(found: Leftovers) -> None:
    """Kill the leftover processes and remove the dead sockets, so a bad test does not haunt the next run."""
    for proc in found.processes:
        with contextlib.suppress(psutil.Error):
            proc.kill()
    psutil.wait_procs(found.processes, timeout=10)
    for path in found.sockets:
        with contextlib.suppress(OSError):
            path.unlink()
