"""anvil as a child process: its own session (a Ctrl-C in the terminal is the parent's to handle), no
secrets in its environment, and gone when its parent is killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from rlswarm_core.chain.devnet import AnvilProcess
from tests.helpers import REPO

SECRET = "0x" + "7e" * 32


def test_anvil_has_its_own_session_and_no_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RLSWARM_WALLET_PRIVATE_KEY", SECRET)
    monkeypatch.setenv("HF_TOKEN", "hf_anvilMustNotSeeThis")
    with AnvilProcess() as anvil:
        assert anvil.pid is not None
        assert os.getsid(anvil.pid) == anvil.pid != os.getsid(0)
        env = Path(f"/proc/{anvil.pid}/environ").read_bytes()
        assert SECRET.encode() not in env and b"hf_anvilMustNotSeeThis" not in env
        assert b"RLSWARM_WALLET_PRIVATE_KEY" not in env and b"PATH=" in env


def test_anvil_stops_when_its_parent_is_killed() -> None:
    script = (
        "import time\n"
        "from rlswarm_core.chain.devnet import AnvilProcess\n"
        "anvil = AnvilProcess().start()\n"
        "print(anvil.pid, flush=True)\n"
        "time.sleep(600)\n"
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", script], cwd=REPO, stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        assert parent.stdout is not None
        anvil = psutil.Process(int(parent.stdout.readline()))
        assert anvil.is_running()
        parent.send_signal(signal.SIGKILL)
        parent.wait(timeout=10)
        gone, _ = psutil.wait_procs([anvil], timeout=15)
        assert gone, f"anvil {anvil.pid} outlived its killed parent"
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
