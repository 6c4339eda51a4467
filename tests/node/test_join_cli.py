"""``rlswarm join`` as an operator runs it: plain log lines without a terminal, a log file, the event
journal, and Ctrl-C that stops cleanly and leaves nothing behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from tests.helpers import REPO

pytestmark = pytest.mark.slow


def _journal(home: Path) -> list[dict]:
    path = home / "state" / "instances" / "default" / "events.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _start_join(home: Path) -> subprocess.Popen[str]:
    """A plain ``rlswarm join`` with no terminal, in its own process group (so a test can kill it all)."""
    env = {**os.environ, "RLSWARM_HOME": str(home), "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "rlswarm_cli.main",
            "join",
            "--profile",
            "local-tiny",
            "--port",
            "0",
            "--host",
            "127.0.0.1",
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def _wait_for_event(home: Path, proc: subprocess.Popen[str], kind: str, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while kind not in [e["kind"] for e in _journal(home)]:
        assert proc.poll() is None, f"join exited before {kind}: {proc.stderr.read() if proc.stderr else ''}"
        assert time.monotonic() < deadline, f"no {kind} within {timeout:.0f} s"
        time.sleep(0.3)


def _interrupt_join(
    home: Path, after: str, presses: int, timeout: float
) -> tuple[subprocess.Popen[str], list[psutil.Process], str, str]:
    """Run ``join`` until the journal shows ``after``, then press Ctrl-C ``presses`` times (50 ms apart);
    the process, its process tree as it was before the presses, and its stdout and stderr."""
    proc = _start_join(home)
    tree: list[psutil.Process] = []
    try:
        _wait_for_event(home, proc, after)
        root = psutil.Process(proc.pid)
        tree = [root, *root.children(recursive=True)]
        assert any(p.name() == "p2pd" for p in tree)  # the swarm is up: there is something to leave
        for press in range(presses):
            if press:
                time.sleep(0.05)
            proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    return proc, tree, out, err


def test_join_plain_output_log_file_and_clean_ctrl_c(tmp_path: Path) -> None:
    home = tmp_path / "home"
    proc, tree, out, err = _interrupt_join(home, "CheckpointSaved", presses=1, timeout=120)
    assert proc.returncode == 0, err[-3000:]
    assert out == ""  # no terminal: plain lines go to stderr, stdout stays clean for pipes
    assert "created identity default" in err
    assert "round 0 stage 0 started" in err and "stopping after the current step" in err
    assert "stopped (stopped)" in err
    assert "Traceback" not in err and "FutureWarning" not in err
    log = (home / "logs" / "default.log").read_text()
    assert "round 0 stage 0 done" in log and "checkpoint for round 0" in log
    kinds = [e["kind"] for e in _journal(home)]
    assert kinds[-1] == "NodeStopped" or "NodeStopped" in kinds
    assert list((home / "data" / "checkpoints").glob("*/round-000000/model.safetensors"))
    _, alive = psutil.wait_procs(tree, timeout=15)
    assert not alive, f"left behind: {alive}"


def test_second_ctrl_c_forces_the_stop(tmp_path: Path) -> None:
    # two quick presses: the second lands during the clean stop or, on a fast stage, after it
    proc, tree, _, err = _interrupt_join(tmp_path / "home", "StepDone", presses=2, timeout=60)
    assert proc.returncode == 130, err[-3000:]
    assert "error: interrupted" in err and "Traceback" not in err
    _, alive = psutil.wait_procs(tree, timeout=15)
    assert not alive, f"left behind: {alive}"
