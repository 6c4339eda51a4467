"""`swarm serve --install-service` writes a systemd user unit that serves the file with the engine alone
(`python -m rlswarm_core.hosting serve FILE`), and that command serves and stops on SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from rlswarm_core.errors import RlswarmError
from rlswarm_core.instances.service import swarm_service
from tests.helpers import REPO, Cli
from tests.instances.ports import free_port_block


def test_install_service_writes_a_unit_serving_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli: Cli
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    swarm_file = tmp_path / "my swarm.toml"
    made = cli("swarm", "create", str(swarm_file), "--name", "club", "--no-chain", "--host", "127.0.0.1")
    assert made.exit_code == 0, made.stderr
    done = cli("swarm", "serve", str(swarm_file), "--install-service")
    unit = tmp_path / ".config" / "systemd" / "user" / "rlswarm-swarm-club.service"
    assert done.exit_code == 0, done.stderr
    assert f"wrote {unit}" in done.stdout
    assert "systemctl --user enable --now rlswarm-swarm-club.service" in done.stdout
    text = unit.read_text()
    # the path has a space: it is quoted as one argument
    assert f'ExecStart={sys.executable} -m rlswarm_core.hosting serve "{swarm_file}"\n' in text
    assert "Restart=on-failure\n" in text and "KillMode=mixed\n" in text
    assert "WantedBy=default.target\n" in text
    assert "PRIVATE_KEY" not in text  # the wallet stays in the keyring
    data = json.loads(cli("swarm", "serve", str(swarm_file), "--install-service", "--json").stdout)
    assert data["service"]["path"] == str(unit)


def test_launchd_agent_runs_swarm_serve(tmp_path: Path) -> None:
    agent = swarm_service("club", tmp_path / "s.toml", platform="darwin", home=tmp_path)
    assert agent.path == tmp_path / "Library" / "LaunchAgents" / "org.rlswarm.swarm.club.plist"
    assert "<string>serve</string>\n    <string>" + str(tmp_path / "s.toml") + "</string>" in agent.text
    with pytest.raises(RlswarmError, match="no service manager support"):
        swarm_service("club", tmp_path / "s.toml", platform="win32")


@pytest.mark.slow
def test_the_service_command_serves_and_stops_on_sigterm(tmp_path: Path, cli: Cli) -> None:
    swarm_file = tmp_path / "club.toml"
    made = cli(
        "swarm",
        "create",
        str(swarm_file),
        "--name",
        "club",
        "--no-chain",
        "--host",
        "127.0.0.1",
        "--port",
        str(free_port_block(1)),
    )
    assert made.exit_code == 0, made.stderr
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}  # the cli fixture's home: the bootnode identity made above
    proc = subprocess.Popen(
        [sys.executable, "-m", "rlswarm_core.hosting", "serve", str(swarm_file)],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip
    try:
        lines: list[str] = []
        assert proc.stderr is not None
        for line in proc.stderr:  # blocks until the next line: no sleeping
            lines.append(line)
            if "serving swarm club" in line:
                break
        assert any("BootnodeUp" in line for line in lines), lines
        os.killpg(proc.pid, signal.SIGTERM)
        rest = proc.communicate(timeout=60)[1]
        assert proc.returncode == 0, rest
        assert "stopped serving swarm club" in rest
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
