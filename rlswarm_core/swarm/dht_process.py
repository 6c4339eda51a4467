"""The DHT's own process: hivemind's ``DHT`` forked away from the terminal, the parent's secrets and its
display.

hivemind runs the DHT in a forked child that starts ``p2pd``. Left as it is, that child shares the
terminal's process group (a Ctrl-C stops it and p2pd in the middle of the node's own shutdown), inherits
every secret variable (and hands them to p2pd), writes its log records through whatever the parent's
``sys.stderr`` was at the fork (the live panel's proxy, whose lock may be held by a thread that does not
exist in the child), and outlives a parent killed with SIGKILL. :func:`start_dht` starts it so that
none of this holds.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rlswarm_core.system import children

_LOG_FORMAT = "%(asctime)s [dht %(process)d] %(levelname)s %(name)s: %(message)s"


@dataclass(frozen=True)
class ChildSetup:
    """What the DHT process does first, before hivemind starts anything."""

    parent_pid: int
    # where the DHT process's output and log records go; None keeps the inherited stderr descriptor
    log_path: Path | None = None
    # the kernel's parent-death signal follows the thread that forked: only ask for it from the main
    # thread (a worker thread's end would look like the parent's death); the pid watch covers the rest
    death_signal: bool = True

    def apply(self) -> None:
        # the parent blocked SIGINT and SIGTERM around the fork: nothing arrives before this is done
        os.setsid()  # a session of its own: the terminal's Ctrl-C reaches neither it nor its p2pd
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, lambda signum, frame: children.end_own_session())
        if self.death_signal:
            children.set_parent_death_signal(signal.SIGTERM)
        children.watch_parent(self.parent_pid, children.end_own_session)
        from rlswarm_core.system.environment import scrub_own_environment

        scrub_own_environment()  # before p2pd starts: it gets a copy of this environment
        self._redirect_output()
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})

    def _redirect_output(self) -> None:
        if self.log_path is not None:
            fd = os.open(self.log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            os.dup2(fd, 1)
            os.dup2(fd, 2)
            os.close(fd)
        # fresh writers on the descriptors: never the parent's display objects
        sys.stdout = open(1, "w", buffering=1, encoding="utf-8", errors="replace", closefd=False)  # noqa: SIM115
        sys.stderr = open(2, "w", buffering=1, encoding="utf-8", errors="replace", closefd=False)  # noqa: SIM115
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(_RedactingFormatter(_LOG_FORMAT))
        root = logging.getLogger()
        for old in list(root.handlers):
            root.removeHandler(old)
        root.addHandler(handler)
        for name in ("hivemind",):
            logger = logging.getLogger(name)
            for old in list(logger.handlers):
                logger.removeHandler(old)
            logger.propagate = True


class _RedactingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        from rlswarm_core.secrets.redact import redact

        return redact(super().format(record))


_dht_class: Any = None


def _isolated_dht_class() -> Any:
    global _dht_class
    if _dht_class is None:
        from rlswarm_core.swarm.dht import hivemind_dht_class

        class IsolatedDHT(hivemind_dht_class()):  # type: ignore[misc]
            rlswarm_setup: ChildSetup | None = None

            def run(self) -> None:
                if self.rlswarm_setup is not None:
                    self.rlswarm_setup.apply()
                super().run()

        _dht_class = IsolatedDHT
    return _dht_class


def start_dht(log_path: Path | None = None, **kwargs: Any) -> Any:
    """Start hivemind's ``DHT(**kwargs)`` in its isolated process (without waiting for it to be ready).

    Its process group (which p2pd joins) is registered for a forced stop.
    """
    dht = _isolated_dht_class()(start=False, **kwargs)
    on_main = threading.current_thread() is threading.main_thread()
    dht.rlswarm_setup = ChildSetup(parent_pid=os.getpid(), log_path=log_path, death_signal=on_main)
    with children.signals_blocked():
        dht.run_in_background(await_ready=False)
    children.register_group(dht.pid)
    return dht


def stop_group(dht: Any) -> None:
    """After the DHT process ended: kill whatever is left of its session (a p2pd it could not stop)."""
    import contextlib

    pid = getattr(dht, "pid", None)
    if pid is None:
        return
    children.unregister_group(pid)
    sockets = _daemon_sockets(pid)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
    # a SIGKILLed p2pd cannot remove its unix sockets; a dead socket left in /tmp is litter
    for path in sockets:
        with contextlib.suppress(OSError):
            path.unlink()


def remove_dead_daemon_sockets(since: float) -> list[Path]:
    """After a failed start: the sockets of p2pd daemons made since ``since`` that died without removing
    them (hivemind kills the daemon when bootstrapping fails). A socket is removed only when no running
    process names it (every p2pd has its socket in its arguments) and nobody listens on it, so another
    node's daemon, even one starting at this moment, keeps its own."""
    import errno
    import socket

    import psutil

    named: set[str] = set()
    for proc in psutil.process_iter(["name", "cmdline"]):
        if proc.info["name"] == "p2pd":
            named.update(str(p) for p in _listen_paths(proc.info["cmdline"] or []))
    removed: list[Path] = []
    for path in Path("/tmp").glob("hivemind-p2pd-*.sock"):
        try:
            if path.lstat().st_mtime < since or str(path) in named:
                continue
        except OSError:
            continue
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
            try:
                probe.connect(str(path))
                continue  # someone listens
            except OSError as exc:
                if exc.errno != errno.ECONNREFUSED:
                    continue
        with contextlib.suppress(OSError):
            path.unlink()
            removed.append(path)
    return removed


def note_daemon_sockets(dht: Any) -> None:
    """Once the DHT is up: tell the forced stop which sockets its p2pd leaves behind when SIGKILLed."""
    pid = getattr(dht, "pid", None)
    if pid is not None:
        children.note_group_files(pid, [str(path) for path in _daemon_sockets(pid)])


def _daemon_sockets(group: int) -> list[Path]:
    """The unix sockets that the p2pd daemons of process group ``group`` listen on (from their arguments)."""
    import psutil

    found: list[Path] = []
    for proc in psutil.process_iter(["name", "cmdline"]):
        try:
            if proc.info["name"] != "p2pd" or os.getpgid(proc.pid) != group:
                continue
        except (ProcessLookupError, PermissionError):
            continue
        found.extend(_listen_paths(proc.info["cmdline"] or []))
    return found


def _listen_paths(cmdline: list[str]) -> list[Path]:
    """The unix socket paths in a p2pd command line (``-listen=/unix/tmp/hivemind-p2pd-….sock``)."""
    found: list[Path] = []
    for arg in cmdline:
        _, _, value = arg.partition("=")
        for part in (value or arg).split(","):
            if part.startswith("/unix/") and part.endswith(".sock"):
                found.append(Path(part[len("/unix") :]))
    return found


_main_handler: logging.Handler | None = None


def route_hivemind_logs(log_path: Path | None) -> None:
    """In the node's own process: hivemind's records (its shutdown warnings among them) go to the
    instance log instead of the terminal, where they would land in the live panel."""
    global _main_handler
    logger = logging.getLogger("hivemind")
    if _main_handler is not None:
        logger.removeHandler(_main_handler)
        _main_handler.close()
        _main_handler = None
    if log_path is None:
        logger.propagate = True
        return
    handler = logging.FileHandler(log_path, encoding="utf-8", delay=True)
    handler.setFormatter(_RedactingFormatter(_LOG_FORMAT.replace("dht", "node")))
    logger.addHandler(handler)
    logger.propagate = False
    _main_handler = handler
