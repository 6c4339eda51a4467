"""Leftovers of crashed nodes: orphaned ``p2pd`` daemons and dead hivemind unix sockets.

hivemind starts ``p2pd`` as a child of the Python process running the DHT and talks to it over unix
sockets named ``/tmp/hivemind-p2pd-<id>.sock`` and ``/tmp/hivemind-p2pclient-<id>.sock``. When that
Python process dies hard, the daemon is re-parented and keeps its ports, and the socket files stay.
"""

from __future__ import annotations

import errno
import os
import shlex
import socket
import stat
import tempfile
import time
from pathlib import Path
from typing import Any

from rlswarm_core.doctor.result import OK, WARNING, CheckResult

DAEMON_NAME = "p2pd"
SOCKET_PATTERNS = ("hivemind-p2pd-*.sock", "hivemind-p2pclient-*.sock")
# hivemind hard-codes /tmp; the platform temp dir is searched too in case TMPDIR points elsewhere.
SOCKET_DIRS = (Path("/tmp"), Path(tempfile.gettempdir()))


def _is_python(proc: Any) -> bool:
    try:
        names = [proc.name(), os.path.basename(proc.exe() or "")]
    except Exception:
        names = [proc.name()]
    return any(n.lower().startswith(("python", "pypy")) for n in names if n)


def _orphan_reason(psutil: Any, ppid: int | None) -> str | None:
    """Why a daemon with parent ``ppid`` has no node behind it, or None when a Python process owns it."""
    # Orphans are re-parented to init (pid 1) or to a subreaper, neither of which runs a node.
    if not ppid or ppid == 1:
        return "its parent process is gone"
    try:
        parent = psutil.Process(ppid)
        if parent.status() == psutil.STATUS_ZOMBIE:
            return "its parent process has exited"
        if _is_python(parent):
            return None
        return f"its parent is {parent.name()} (pid {ppid}), not a node"
    except psutil.NoSuchProcess:
        return "its parent process is gone"


def stale_daemons() -> list[dict[str, Any]]:
    """This user's p2pd processes whose parent is gone or is not a Python process."""
    import psutil

    uid = os.getuid()
    found: list[dict[str, Any]] = []
    for proc in psutil.process_iter(["pid", "name", "ppid", "uids", "status"]):
        try:
            info = proc.info
            if info["name"] != DAEMON_NAME or info["uids"] is None or info["uids"].real != uid:
                continue
            if info["status"] == psutil.STATUS_ZOMBIE:
                continue  # already dead, only waiting to be reaped: nothing to kill
            reason = _orphan_reason(psutil, info["ppid"])
            if reason:
                found.append({"pid": info["pid"], "ppid": info["ppid"], "reason": reason})
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return found


def _has_listener(path: Path) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(1.0)
        try:
            sock.connect(str(path))
        except OSError as exc:
            # Refused or gone means nobody is listening; anything else (e.g. a busy backlog) is not proof.
            return exc.errno not in (errno.ECONNREFUSED, errno.ENOENT)
    return True


def stale_sockets(dirs: tuple[Path, ...] = SOCKET_DIRS, min_age_s: float = 0.0) -> list[str]:
    """This user's hivemind sockets with nobody listening, last changed at least ``min_age_s`` ago."""
    uid = os.getuid()
    newest = time.time() - min_age_s
    found: list[str] = []
    for folder in dict.fromkeys(d.resolve() for d in dirs if d.is_dir()):
        for pattern in SOCKET_PATTERNS:
            for path in sorted(folder.glob(pattern)):
                try:
                    info = path.lstat()
                except OSError:
                    continue
                if info.st_uid != uid or not stat.S_ISSOCK(info.st_mode) or info.st_mtime > newest:
                    continue
                if not _has_listener(path):
                    found.append(str(path))
    return found


def remove_stale_sockets(dirs: tuple[Path, ...] = SOCKET_DIRS, min_age_s: float = 60.0) -> list[str]:
    """Delete the dead sockets that nodes killed hard left behind; the paths removed.

    A daemon binds its socket a moment before it listens, so only sockets older than ``min_age_s``
    count: a node starting beside this one never loses its socket.
    """
    removed: list[str] = []
    for path in stale_sockets(dirs, min_age_s=min_age_s):
        try:
            os.unlink(path)
        except OSError:
            continue
        removed.append(path)
    return removed


def check_p2pd(socket_dirs: tuple[Path, ...] = SOCKET_DIRS) -> CheckResult:
    daemons = stale_daemons()
    sockets = stale_sockets(socket_dirs)
    details: dict[str, Any] = {"stale_processes": daemons, "stale_sockets": sockets}
    if not daemons and not sockets:
        return CheckResult("p2pd", OK, "no orphaned p2pd daemons or sockets", "", details)
    parts = []
    fixes = []
    if daemons:
        pids = " ".join(str(d["pid"]) for d in daemons)
        parts.append(f"{len(daemons)} orphaned p2pd (pid {pids}: {daemons[0]['reason']})")
        fixes.append(f"kill {pids}")
    if sockets:
        parts.append(f"{len(sockets)} dead hivemind socket(s) in {Path(sockets[0]).parent}")
        fixes.append("rm " + " ".join(shlex.quote(s) for s in sockets))
    return CheckResult("p2pd", WARNING, "; ".join(parts), "; ".join(fixes), details)
