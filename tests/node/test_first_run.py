"""A first run on a terminal: no identity and no login, and ``join`` walks the operator through it
(no browser), then trains."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from rlswarm_core.chain.devnet import STAGE_MANAGER_INDEX, Devnet, DevnetInfo, dev_key
from tests.helpers import REPO

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed (apt-get install tmux)"),
]


@pytest.fixture(scope="module")
def chain() -> Iterator[DevnetInfo]:
    with Devnet() as info:
        yield info


def _screen(session: str) -> str:
    return subprocess.run(
        ["tmux", "capture-pane", "-p", "-J", "-S", "-200", "-t", session],
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def _wait_for(session: str, text: str, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        shown = _screen(session)
        if text in shown:
            return shown
        time.sleep(0.3)
    raise AssertionError(f"{text!r} never appeared; screen:\n{_screen(session)}")


def test_first_join_offers_a_wallet_login_then_trains(
    tmp_path: Path, chain: DevnetInfo, keyring_env: dict[str, str]
) -> None:
    home = tmp_path / "home"
    session = f"rlswarm-first-{uuid.uuid4().hex[:8]}"
    env = " ".join(f"{k}={v}" for k, v in keyring_env.items() if k in ("DBUS_SESSION_BUS_ADDRESS",))
    command = (
        f"cd {REPO} && {env} RLSWARM_HOME={home} NO_COLOR=1 {sys.executable} -m rlswarm_cli.main join "
        f"--profile local-tiny --host 127.0.0.1 --port 0 --max-rounds 1 --network devnet "
        f"--rpc-url {chain.rpc_url} --contract {chain.contract}; echo EXIT=$?; sleep 60"
    )
    subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "160", "-y", "50", command], check=True)
    try:
        shown = _wait_for(session, "Log in now", timeout=60)
        assert "created identity default" in shown and "needs a login" in shown
        subprocess.run(["tmux", "send-keys", "-t", session, "w", "Enter"], check=True)
        _wait_for(session, "wallet private key", timeout=30)
        subprocess.run(
            ["tmux", "send-keys", "-t", session, dev_key(STAGE_MANAGER_INDEX), "Enter"], check=True
        )
        shown = _wait_for(session, "EXIT=", timeout=240)
        assert "EXIT=0" in shown, shown
        assert "stored in keyring" in shown
        assert "1 round(s), 3 stage(s) trained" in shown
        key = dev_key(STAGE_MANAGER_INDEX)
        assert key not in shown and key.removeprefix("0x") not in shown  # the hidden prompt never echoes it
    finally:
        pane_pids = subprocess.run(
            ["tmux", "list-panes", "-t", session, "-F", "#{pane_pid}"], capture_output=True, text=True
        ).stdout.split()
        procs = []
        for pid in pane_pids:
            with contextlib.suppress(psutil.NoSuchProcess):
                procs += psutil.Process(int(pid)).children(recursive=True)
        subprocess.run(["tmux", "kill-session", "-t", session], check=False)
        _, alive = psutil.wait_procs([p for p in procs if p.name() != "sleep"], timeout=15)
        assert not alive, f"left behind: {alive}"
