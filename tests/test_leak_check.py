"""The session-end check itself: a run that leaves a process or a dead hivemind socket behind fails."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import psutil

from tests.helpers import REPO

LEAKY = """
import socket, subprocess

def test_leaves_things_behind():
    # a daemon called p2pd, in a session of its own, as a SIGKILLed node leaves it
    proc = subprocess.Popen(["DAEMON", "-listen=/unixSOCKET"], start_new_session=True)
    open("PIDFILE", "w").write(str(proc.pid))
    sock = socket.socket(socket.AF_UNIX)
    sock.bind("SOCKET")  # bound, then closed without unlinking: a dead socket
    sock.close()
"""
# named p2pd, so the session's watcher attributes its socket to it; it only waits to be killed
DAEMON = "#!/bin/sh\nsleep 300\n"

CLEAN = """
import subprocess

def test_cleans_up():
    proc = subprocess.Popen(["sleep", "300"])
    proc.kill()
    proc.wait()
"""


def _run_session(tmp_path: Path, source: str) -> subprocess.CompletedProcess[str]:
    test_file = tmp_path / f"test_inner_{uuid.uuid4().hex[:6]}.py"
    test_file.write_text(source)
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-p",
            "tests.conftest",
            "--leak-grace",
            "0.5",
            "--rootdir",
            str(tmp_path),
            str(test_file),
        ],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_session_that_leaves_a_process_and_a_socket_fails(tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    daemon = tmp_path / "p2pd"
    daemon.write_text(DAEMON)
    daemon.chmod(0o755)
    sock = Path(f"/tmp/hivemind-leakcheck-{uuid.uuid4().hex[:8]}.sock")
    source = (
        LEAKY.replace("PIDFILE", str(pidfile)).replace("SOCKET", str(sock)).replace("DAEMON", str(daemon))
    )
    try:
        done = _run_session(tmp_path, source)
        assert done.returncode == 1, done.stdout + done.stderr
        assert "1 passed" in done.stdout and "left behind by the tests" in done.stdout
        pid = int(pidfile.read_text())
        assert f"process {pid} (p2pd): /bin/sh {daemon} -listen=/unix{sock}" in done.stdout
        assert f"socket {sock} (nobody listens on it; its p2pd started during " in done.stdout
        # and the check removed them
        assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
        assert not sock.exists()
    finally:
        sock.unlink(missing_ok=True)
        if pidfile.exists() and psutil.pid_exists(int(pidfile.read_text())):
            psutil.Process(int(pidfile.read_text())).kill()


def test_a_session_that_cleans_up_passes(tmp_path: Path) -> None:
    done = _run_session(tmp_path, CLEAN)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "left behind" not in done.stdout
