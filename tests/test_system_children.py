"""Private folders, child environments without secrets, and the stop policy's forced exit, each with real
processes and real signals."""

from __future__ import annotations

import contextlib
import os
import signal
import stat
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from rlswarm_core.system.environment import child_environment, scrub_own_environment
from rlswarm_core.system.paths import app_paths, private_dir
from tests.helpers import REPO, run_rlswarm


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_private_dir_makes_every_missing_folder_0700_whatever_the_umask(tmp_path: Path) -> None:
    existing = tmp_path / "existing"
    existing.mkdir(mode=0o755)
    os.chmod(existing, 0o755)
    previous = os.umask(0o022)
    try:
        target = private_dir(existing / "a" / "b" / "c")
    finally:
        os.umask(previous)
    assert target.is_dir()
    assert [_mode(p) for p in (existing / "a", existing / "a" / "b", target)] == [0o700] * 3
    assert _mode(existing) == 0o755  # a folder that existed keeps its mode


def test_cli_writes_private_files_and_folders(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = {"RLSWARM_HOME": str(home)}
    assert run_rlswarm("config", "set", "dht_port", "38400", env=env).returncode == 0
    assert run_rlswarm("identity", "create", "--name", "spare", env=env).returncode == 0
    paths = app_paths({"RLSWARM_HOME": str(home)})
    for folder in (home, paths.config, paths.data, paths.state, paths.logs, paths.identities):
        assert _mode(folder) == 0o700, folder
    assert _mode(paths.config_file) == 0o600
    assert _mode(paths.identities / "spare.pem") == 0o600


def test_child_environment_drops_secrets_and_keeps_the_rest() -> None:
    base = {
        "PATH": "/usr/bin",
        "HF_TOKEN": "hf_x",
        "RLSWARM_HF_TOKEN": "hf_y",
        "RLSWARM_WALLET_PRIVATE_KEY": "0xkey",
        "RLSWARM_PROXY_ORG_ID": "org",
        "RLSWARM_PROXY_API_KEY": "api",
        "RLSWARM_HOME": "/home/x",
    }
    assert child_environment(base, extra={"GOLOG_LOG_LEVEL": "error"}) == {
        "PATH": "/usr/bin",
        "RLSWARM_HOME": "/home/x",
        "GOLOG_LOG_LEVEL": "error",
    }


@pytest.mark.parametrize("withheld", [False, True], ids=["in-os-environ", "withheld-before-fork"])
def test_a_forked_child_scrubs_secrets_from_its_proc_environ(withheld: bool) -> None:
    # the secret is in this process's initial environment block, as an operator's export puts it; the
    # parent may have taken it out of os.environ already (the runtime does), the block still has it
    script = (
        "import os, sys, time\n"
        "from rlswarm_core.system.environment import scrub_own_environment\n"
        + ("os.environ.pop('HF_TOKEN')\n" if withheld else "")
        + "pid = os.fork()\n"
        "if pid == 0:\n"
        "    scrub_own_environment()\n"
        "    os.write(1, b'scrubbed\\n')\n"
        "    time.sleep(30)\n"
        "    os._exit(0)\n"
        "print(pid, flush=True)\n"
        "os.waitpid(pid, 0)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO), "HF_TOKEN": "hf_inheritedByFork123"}
    proc = subprocess.Popen([sys.executable, "-c", script], env=env, stdout=subprocess.PIPE, text=True)
    child = 0
    try:
        assert proc.stdout is not None
        lines = {proc.stdout.readline().strip(), proc.stdout.readline().strip()}
        child = int(next(line for line in lines if line.isdigit()))
        parent_env = Path(f"/proc/{proc.pid}/environ").read_bytes()
        child_env = Path(f"/proc/{child}/environ").read_bytes()
        assert b"hf_inheritedByFork123" in parent_env
        assert b"hf_inheritedByFork123" not in child_env and b"HF_TOKEN" not in child_env
        assert b"PATH=" in child_env
    finally:
        for pid in (child, proc.pid):
            if pid:
                with contextlib.suppress(psutil.Error):
                    psutil.Process(pid).kill()
        proc.wait()


def test_scrub_in_this_process_leaves_no_secret_in_os_environ(monkeypatch) -> None:
    monkeypatch.setenv("RLSWARM_PROXY_API_KEY", "api-secret")
    assert "RLSWARM_PROXY_API_KEY" in scrub_own_environment()
    assert "RLSWARM_PROXY_API_KEY" not in os.environ


_POLICY = """
import subprocess, time
from rlswarm_core.node.signals import StopPolicy
from rlswarm_core.system.children import register_group

child = subprocess.Popen(["sleep", "300"], start_new_session=True)
register_group(child.pid)
policy = StopPolicy(notify=lambda level, text: print(level, text, flush=True)).install()
print("child", child.pid, flush=True)
while True:
    time.sleep(0.05)
"""


def test_first_signal_stops_second_forces_and_kills_the_children() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", _POLICY], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        child = psutil.Process(int(proc.stdout.readline().split()[1]))
        proc.send_signal(signal.SIGINT)
        assert proc.stdout.readline().startswith("warn stopping after the current step")
        assert proc.poll() is None  # the first signal only asks
        proc.send_signal(signal.SIGTERM)  # a second signal of either kind forces
        _, err = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130 and "error: interrupted" in err and "Traceback" not in err
    gone, _ = psutil.wait_procs([child], timeout=10)
    assert gone, "the forced stop left the child's group running"


def test_secrets_are_withheld_from_children_started_in_the_block(monkeypatch: pytest.MonkeyPatch) -> None:
    from rlswarm_core.system.environment import secrets_withheld

    monkeypatch.setenv("RLSWARM_WALLET_PRIVATE_KEY", "0xwithheld")
    with secrets_withheld() as names:
        assert "RLSWARM_WALLET_PRIVATE_KEY" in names
        seen = subprocess.run(["env"], capture_output=True, text=True, check=True).stdout
    assert "0xwithheld" not in seen and "PATH=" in seen
    assert os.environ["RLSWARM_WALLET_PRIVATE_KEY"] == "0xwithheld"  # back for the rest of the program
