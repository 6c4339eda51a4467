"""A real ``rlswarm join`` with automatic pushes: a failing Hub never stops training, and a read-only
token is refused before any training starts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import REPO
from tests.hub.fake_hub import READ_TOKEN, WRITE_TOKEN, FakeHub

pytestmark = pytest.mark.slow


def _join(home: Path, hub: FakeHub, token: str, rounds: int) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "RLSWARM_HOME": str(home),
        "HF_ENDPOINT": hub.url,
        "HF_HUB_OFFLINE": "0",
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "HF_TOKEN": token,
        "RLSWARM_PUSH_EVERY_ROUNDS": "1",
    }
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "rlswarm_cli.main",
            "--json",
            "join",
            "--profile",
            "local-tiny",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--max-rounds",
            str(rounds),
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _events(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]


def test_failing_hub_keeps_training_and_reports(tmp_path: Path, fake_hub: FakeHub) -> None:
    fake_hub.state.fail("commit", 500, times=1000)
    done = _join(tmp_path / "home", fake_hub, WRITE_TOKEN, rounds=2)
    assert done.returncode == 0, done.stderr[-3000:]
    events = _events(done.stdout)
    assert {e["round"] for e in events if e["kind"] == "RoundFinished"} == {0, 1}
    failures = [e for e in events if e["kind"] == "PushFailed"]
    assert failures and all(WRITE_TOKEN not in json.dumps(e) for e in failures)
    assert not [e for e in events if e["kind"] == "PushDone"]
    assert WRITE_TOKEN not in done.stdout + done.stderr


def test_working_hub_gets_each_round(tmp_path: Path, fake_hub: FakeHub) -> None:
    done = _join(tmp_path / "home", fake_hub, WRITE_TOKEN, rounds=2)
    assert done.returncode == 0, done.stderr[-3000:]
    pushed = [e for e in _events(done.stdout) if e["kind"] == "PushDone"]
    assert pushed and pushed[-1]["round"] == 1
    assert fake_hub.state.count("commit") >= 1


def test_read_only_token_is_refused_before_training(tmp_path: Path, fake_hub: FakeHub) -> None:
    done = _join(tmp_path / "home", fake_hub, READ_TOKEN, rounds=1)
    assert done.returncode == 1
    assert not [e for e in _events(done.stdout) if e["kind"] == "NodeStarted"]
    lines = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "write" in lines[0]
    assert fake_hub.state.count("commit") == 0 and fake_hub.state.count("create") == 0
