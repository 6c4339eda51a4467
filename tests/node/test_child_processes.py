"""A node's child processes (the DHT process and its p2pd): they never outlive a node killed with
SIGKILL, and they never see the operator's secrets; and everything the node writes is private."""

from __future__ import annotations

import os
import signal
import stat
from pathlib import Path

import psutil
import pytest

from tests.node.procs import NodeProcess

pytestmark = pytest.mark.slow

ARGS = ["--profile", "local-tiny", "--host", "127.0.0.1", "--port", "0"]
SECRETS = {
    "RLSWARM_WALLET_PRIVATE_KEY": "0x" + "5a" * 32,
    "HF_TOKEN": "hf_childEnvironmentSecret0123456789",
    "RLSWARM_HF_TOKEN": "hf_rlswarmChildEnvironmentSecret987",
    "RLSWARM_PROXY_API_KEY": "proxy-api-key-child-environment-secret",
    "RLSWARM_PROXY_ORG_ID": "org-child-environment-secret",
}


def _children(node: NodeProcess) -> tuple[psutil.Process, psutil.Process]:
    """The node's DHT process and that process's p2pd."""
    for proc in node.tree()[1:]:
        daemons = [p for p in proc.children() if p.name() == "p2pd"]
        if daemons:
            return proc, daemons[0]
    raise AssertionError(f"no DHT process with a p2pd under the node: {node.tree()}")


def _environ(proc: psutil.Process) -> bytes:
    return Path(f"/proc/{proc.pid}/environ").read_bytes()


def test_parent_killed_leaves_no_dht_process_or_p2pd(tmp_path: Path) -> None:
    node = NodeProcess("victim", tmp_path / "home", ARGS)
    try:
        node.wait_for(lambda e: e["kind"] == "StepDone", timeout=240)
        dht, p2pd = _children(node)
        others = node.tree()[1:]
        os.kill(node.proc.pid, signal.SIGKILL)  # the node alone, as the OOM killer would
        node.proc.wait(timeout=10)
        _, alive = psutil.wait_procs(others, timeout=20)
        alive = [p for p in alive if p.status() != psutil.STATUS_ZOMBIE]
        assert not alive, f"left behind by a killed node: {alive} (DHT {dht.pid}, p2pd {p2pd.pid})"
    finally:
        node.kill_hard()


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="needs /proc")
def test_children_get_no_secrets_and_files_are_private(tmp_path: Path) -> None:
    home = tmp_path / "home"
    node = NodeProcess("secretive", home, ARGS, env=SECRETS)
    try:
        node.wait_for(lambda e: e["kind"] == "CheckpointSaved", timeout=240)
        dht, p2pd = _children(node)
        assert any(value.encode() in _environ(psutil.Process(node.proc.pid)) for value in SECRETS.values())
        helpers = node.tree()[1:]
        assert dht in helpers and p2pd in helpers
        # every process under the node: the DHT process, p2pd, and any helper a library started
        for proc in helpers:
            env = _environ(proc)
            leaked = [k for k, v in SECRETS.items() if k.encode() in env or v.encode() in env]
            assert not leaked, f"{proc.name()} ({proc.pid}) has {leaked} in its environment"
            assert b"PATH=" in env  # the rest of the environment is still there
        # the DHT process writes to the instance log, never to the node's terminal or display
        log = str(home / "logs" / "default.log")
        assert [os.readlink(f"/proc/{dht.pid}/fd/{fd}") for fd in (1, 2)] == [log, log]
    finally:
        assert node.stop(timeout=60) == 0, node.describe()
    loose = []
    for path in [home, *home.rglob("*")]:
        mode = stat.S_IMODE(path.lstat().st_mode)
        if path.is_symlink():
            continue
        if (path.is_dir() and mode != 0o700) or (path.is_file() and mode & 0o077):
            loose.append(f"{oct(mode)} {path.relative_to(home)}")
    assert not loose, "not private: " + ", ".join(loose)
    assert list((home / "data" / "checkpoints").glob("*/round-000000/model.safetensors"))


_DHT_FROM_A_THREAD = """
import os, sys, threading, time
from pathlib import Path
from rlswarm_core.identity.keys import create_identity
from rlswarm_core.swarm.dht import DHTOptions, start_node

identity = Path(sys.argv[1])
create_identity(identity)
started = []
worker = threading.Thread(
    target=lambda: started.append(start_node(DHTOptions(identity_path=identity, host="127.0.0.1", port=0)))
)
worker.start()
worker.join()  # the thread that started the DHT process is gone; the DHT process must not be
assert started[0].visible_maddrs(), "the DHT process stopped answering when its starting thread ended"
print(started[0].dht.pid, *started[0].daemon_pids(), flush=True)
time.sleep(600)
"""


def test_dht_started_from_a_thread_outlives_the_thread_not_the_process(tmp_path: Path) -> None:
    import subprocess
    import sys

    from tests.helpers import REPO

    parent = subprocess.Popen(
        [sys.executable, "-c", _DHT_FROM_A_THREAD, str(tmp_path / "id.pem")],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        assert parent.stdout is not None
        line = parent.stdout.readline()
        assert line, "the DHT did not start"
        procs = [psutil.Process(int(pid)) for pid in line.split()]
        assert len(procs) == 2 and procs[1].name() == "p2pd"
        assert all(p.is_running() and p.status() != psutil.STATUS_ZOMBIE for p in procs)
        parent.send_signal(signal.SIGKILL)
        parent.wait(timeout=10)
        _, alive = psutil.wait_procs(procs, timeout=20)
        assert not [p for p in alive if p.status() != psutil.STATUS_ZOMBIE], f"left behind: {alive}"
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
