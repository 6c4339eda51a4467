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


def test_join_plain_output_log_file_and_clean_ctrl_c(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = {**os.environ, "RLSWARM_HOME": str(home), "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
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
    tree: list[psutil.Process] = []
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            kinds = [e["kind"] for e in _journal(home)]
            if "CheckpointSaved" in kinds:
                break
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            time.sleep(0.5)
        else:
            pytest.fail("no checkpoint within 240 s")
        root = psutil.Process(proc.pid)
        tree = [root, *root.children(recursive=True)]
        assert any(p.name() == "p2pd" for p in tree)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
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
    home = tmp_path / "home"
    env = {**os.environ, "RLSWARM_HOME": str(home), "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
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
    tree: list[psutil.Process] = []
    try:
        deadline = time.monotonic() + 240
        while "StepDone" not in [e["kind"] for e in _journal(home)]:
            assert proc.poll() is None and time.monotonic() < deadline, "the node never trained a step"
            time.sleep(0.3)
        root = psutil.Process(proc.pid)
        tree = [root, *root.children(recursive=True)]
        # two quick presses: the second lands while the step is still running
        proc.send_signal(signal.SIGINT)
        time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 130, err[-3000:]
    assert "error: interrupted" in err and "Traceback" not in err
    _, alive = psutil.wait_procs(tree, timeout=15)
    assert not alive, f"left behind: {alive}"
