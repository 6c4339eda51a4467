"""`rlswarm devnet up` from an installed wheel, outside the source tree: npm installs anvil on first use."""

from __future__ import annotations

import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest

from rlswarm_core.chain.anvil_binary import ANVIL_NPM_PACKAGE, ANVIL_VERSION
from tests.helpers import REPO

SHIPPED = REPO / "rlswarm_core" / "chain" / "_anvil"


def test_shipped_anvil_pins_match_the_checkout() -> None:
    checkout = json.loads((REPO / "package.json").read_text())
    shipped = json.loads((SHIPPED / "package.json").read_text())
    assert checkout["devDependencies"][ANVIL_NPM_PACKAGE] == ANVIL_VERSION
    assert shipped["dependencies"] == {ANVIL_NPM_PACKAGE: ANVIL_VERSION}
    # the same files, by integrity hash, as the checkout's `npm ci` installs
    checkout_lock = json.loads((REPO / "package-lock.json").read_text())["packages"]
    shipped_lock = json.loads((SHIPPED / "package-lock.json").read_text())["packages"]
    anvil = {k: v for k, v in checkout_lock.items() if k.startswith(f"node_modules/{ANVIL_NPM_PACKAGE}")}
    assert len(anvil) >= 2
    assert {k: v for k, v in shipped_lock.items() if k} == {
        k: {f: x for f, x in v.items() if f != "dev"} for k, v in anvil.items()
    }
    assert shipped_lock[""]["dependencies"] == {ANVIL_NPM_PACKAGE: ANVIL_VERSION}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel built from this checkout, installed (without dependencies) into a folder of its own."""
    dist = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-c", f"from hatchling.build import build_wheel; build_wheel({str(dist)!r})"],
        cwd=REPO,
        check=True,
        capture_output=True,
    )
    (wheel,) = dist.glob("rlswarm-*.whl")
    target = tmp_path_factory.mktemp("site")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-index", "--target", target, wheel],
        check=True,
        capture_output=True,
    )
    return target


def _env(site: Path, home: Path, path: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RLSWARM_")}
    env.update(PYTHONPATH=str(site), RLSWARM_HOME=str(home), PATH=path, NO_COLOR="1")
    assert shutil.which("anvil", path=path) is None and "node_modules" not in path
    return env


def _as_in_a_terminal() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.slow
def test_package_is_the_wheel(site: Path, tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", "import rlswarm_core, rlswarm_cli; print(rlswarm_core.__file__)"],
        env=_env(site, tmp_path / "home", str(tmp_path)),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert Path(done.stdout.strip()).is_relative_to(site), done.stderr


@pytest.mark.slow
def test_devnet_up_without_npm_names_the_fix(site: Path, tmp_path: Path) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()
    home = tmp_path / "home"
    done = subprocess.run(
        [sys.executable, "-m", "rlswarm_cli.main", "devnet", "up", "--port", "0", "--json"],
        env=_env(site, home, str(empty)),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1 and done.stdout == ""
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("error: anvil was not found, and npm is not installed to fetch it (")
    assert "Node.js" in line and "RLSWARM_ANVIL" in line


@pytest.mark.slow
def test_devnet_up_from_the_wheel_installs_anvil_with_npm(site: Path, tmp_path: Path) -> None:
    npm, node = shutil.which("npm"), shutil.which("node")
    assert npm and node, "npm and node are needed (scripts/test.sh installs them)"
    path = os.pathsep.join(dict.fromkeys(str(Path(p).parent) for p in (npm, node)))
    home = tmp_path / "home"
    env = _env(site, home, path)
    # npm's cache holds anvil's packages since the checkout's `npm ci`: the install needs no network
    env["npm_config_offline"] = "true"
    work = tmp_path / "cwd"
    work.mkdir()
    up = subprocess.Popen(
        [sys.executable, "-m", "rlswarm_cli.main", "devnet", "up", "--port", "0", "--json"],
        env=env,
        cwd=work,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_as_in_a_terminal,
    )
    errors: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert up.stderr is not None
        for line in up.stderr:
            errors.put(line)

    threading.Thread(target=pump, daemon=True).start()
    anvil_pid = None
    try:
        assert up.stdout is not None
        text = ""
        deadline = time.monotonic() + 120
        info = None
        while info is None:
            line = up.stdout.readline()
            assert line, f"devnet up ended without JSON: {''.join(list(errors.queue))}"
            text += line
            try:
                info = json.loads(text)
            except ValueError:
                assert time.monotonic() < deadline, text
        anvil_pid = info["anvil_pid"]
        assert info["rpc_url"].startswith("http://127.0.0.1:") and info["contract"].startswith("0x")
        installed = home / "data" / "tools" / f"anvil-{ANVIL_VERSION}"
        assert psutil.Process(anvil_pid).exe().startswith(str(installed))
        progress = [line for line in errors.queue if "installing anvil" in line]
        assert progress == [f"installing anvil {ANVIL_VERSION} with npm into {installed} (first use only)\n"]
        up.send_signal(signal.SIGTERM)
        assert up.wait(timeout=30) == 0
        assert not psutil.pid_exists(anvil_pid) or psutil.Process(anvil_pid).status() == "zombie"
        assert not (home / "state" / "devnet.json").exists()
        # a second use finds the install (no npm needed any more)
        probe = "from rlswarm_core.chain.anvil_binary import find_anvil; print(find_anvil(install=False))"
        again = subprocess.run(
            [sys.executable, "-c", probe],
            env=_env(site, home, str(work)),
            cwd=work,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert Path(again.stdout.strip()).is_relative_to(installed), again.stderr
        assert [p.name for p in installed.parent.iterdir()] == [installed.name]
    finally:
        if up.poll() is None:
            up.kill()
            up.wait()
        if anvil_pid is not None and psutil.pid_exists(anvil_pid):
            psutil.Process(anvil_pid).kill()
