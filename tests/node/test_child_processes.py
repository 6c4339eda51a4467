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
        for proc in (dht, p2pd):
            env = _environ(proc)
            leaked = [k for k, v in SECRETS.items() if k.encode() in env or v.encode() in env]
            assert not leaked, f"{proc.name()} ({proc.pid}) has {leaked} in its environment"
            assert b"PATH=" in env  # the rest of the environment is still there
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
