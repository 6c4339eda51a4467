"""`swarm serve --install-service` writes a systemd user unit that runs `rlswarm swarm serve FILE`."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from rlswarm_core.errors import RlswarmError
from rlswarm_core.instances.service import swarm_service
from tests.helpers import Cli


def test_install_service_writes_a_unit_serving_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli: Cli
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    swarm_file = tmp_path / "my swarm.toml"
    assert cli("swarm", "create", str(swarm_file), "--name", "club", "--no-chain").exit_code == 0
    done = cli("swarm", "serve", str(swarm_file), "--install-service")
    unit = tmp_path / ".config" / "systemd" / "user" / "rlswarm-swarm-club.service"
    assert done.exit_code == 0, done.stderr
    assert f"wrote {unit}" in done.stdout
    assert "systemctl --user enable --now rlswarm-swarm-club.service" in done.stdout
    text = unit.read_text()
    # the path has a space: it is quoted as one argument
    assert f'ExecStart={sys.executable} -m rlswarm_cli.main swarm serve "{swarm_file}"\n' in text
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
