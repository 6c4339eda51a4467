"""Every ``instances`` command and option through the real Typer app (no processes started here)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rlswarm_core.instances import planner
from rlswarm_core.system import hardware
from rlswarm_core.system.paths import app_paths
from tests.helpers import REPO, Cli, follows, wait_for
from tests.instances.ports import free_port_block


def add_two(cli: Cli, port: int) -> dict:
    done = cli(
        "instances", "add", "--count", "2", "--profile", "local-tiny", "--host", "127.0.0.1",
        "--port", str(port), "--json",
    )  # fmt: skip
    assert done.exit_code == 0, done.stderr
    return json.loads(done.stdout)


def test_add_creates_a_coordinator_and_a_follower_on_distinct_ports(cli: Cli) -> None:
    port = free_port_block(2)
    data = add_two(cli, port)
    first, second = data["created"]
    assert (first["name"], first["role"], first["port"]) == ("node-1", "coordinator", port)
    assert (second["name"], second["role"], second["port"]) == ("node-2", "follower", port + 1)
    assert second["coordinator_peer_id"] == first["peer_id"]
    assert (app_paths().identities / "node-2.pem").is_file()
    assert data["plan"]["threads"] >= 1 and data["plan"]["memory_budget_gb"] == 1
    # a third one follows the same coordinator, on the next free port
    third = json.loads(cli("instances", "add", "--profile", "local-tiny", "--name", "extra", "--json").stdout)
    assert third["created"][0]["coordinator_peer_id"] == first["peer_id"]
    assert third["created"][0]["port"] not in (port, port + 1)


def test_add_human_output_and_option_errors(cli: Cli) -> None:
    port = free_port_block(1)
    done = cli("instances", "add", "--profile", "local-tiny", "--port", str(port))
    assert done.exit_code == 0 and "created node-1 (coordinator" in done.stdout
    assert "rlswarm instances start" in done.stdout
    bad = cli("instances", "add", "--count", "2", "--name", "x")
    assert bad.exit_code == 2 and "--name" in bad.stderr
    bad = cli("instances", "add", "--count", "0")
    assert bad.exit_code == 2 and "--count" in bad.stderr
    if not hardware.detect().gpus:
        bad = cli("instances", "add", "--profile", "local-tiny", "--gpu", "0")
        assert bad.exit_code == 1 and "no CUDA GPU" in bad.stderr


def test_add_refuses_what_the_machine_cannot_hold_unless_forced(cli: Cli) -> None:
    hw = hardware.detect()
    if hw.gpus:
        pytest.skip("the memory bound is checked on CPU machines")
    each = 6 + planner.OVERHEAD_GB  # the cpu profile's budget
    too_many = int(hw.memory_gb * (1 - planner.RESERVE_FRACTION) // each) + 1
    refused = cli("instances", "add", "--profile", "cpu", "--count", str(too_many))
    assert refused.exit_code == 1
    assert f"{too_many} instance(s) need about" in refused.stderr and "--force" in refused.stderr
    assert not app_paths().instances.exists() or not any(app_paths().instances.iterdir())
    forced = cli("instances", "add", "--profile", "cpu", "--count", str(too_many), "--force", "--json")
    assert forced.exit_code == 0 and len(json.loads(forced.stdout)["created"]) == too_many
    assert "warning:" in forced.stderr


def test_plan_recommends_and_explains(cli: Cli) -> None:
    data = json.loads(cli("instances", "plan", "--profile", "local-tiny", "--json").stdout)
    assert data["count"] == data["recommended"] >= 1 and data["profile"] == "local-tiny"
    data = json.loads(cli("instances", "plan", "--profile", "local-tiny", "--count", "3", "--json").stdout)
    assert data["count"] == 3 and data["memory_needed_gb"] == pytest.approx(3 * 1.75, abs=0.1)
    human = cli("instances", "plan", "-p", "local-tiny", "-n", "2")
    assert "recommended on this machine" in human.stdout and "2 instance(s):" in human.stdout


def test_list_shows_stopped_instances(cli: Cli) -> None:
    assert "no instances" in cli("instances", "list").stdout
    add_two(cli, free_port_block(2))
    rows = json.loads(cli("instances", "list", "--json").stdout)["instances"]
    assert [(r["name"], r["state"], r["pid"], r["restarts"], r["round"]) for r in rows] == [
        ("node-1", "stopped", None, 0, None),
        ("node-2", "stopped", None, 0, None),
    ]
    assert rows[0]["animal_name"].count(" ") == 2
    human = cli("instances", "list").stdout
    assert "node-1" in human and "stopped" in human


def test_stop_and_start_errors_without_running_nodes(cli: Cli) -> None:
    missing = cli("instances", "start")
    assert missing.exit_code == 1 and "no instances yet" in missing.stderr
    add_two(cli, free_port_block(2))
    done = cli("instances", "stop", "--timeout", "5", "--json")
    assert json.loads(done.stdout)["stopped"] == [
        {"name": "node-1", "stopped": False},
        {"name": "node-2", "stopped": False},
    ]
    assert "node-1: was not running" in cli("instances", "stop", "node-1").stdout
    unknown = cli("instances", "start", "ghost")
    assert unknown.exit_code == 1 and "no instance named 'ghost'" in unknown.stderr


def test_install_service_writes_units(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli: Cli) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    add_two(cli, free_port_block(2))
    done = cli("instances", "start", "--install-service", "node-1")
    unit = tmp_path / ".config" / "systemd" / "user" / "rlswarm-node-1.service"
    assert done.exit_code == 0 and f"wrote {unit}" in done.stdout
    assert "systemctl --user enable --now rlswarm-node-1.service" in done.stdout
    assert "rlswarm_core.instances.supervise node-1" in unit.read_text()
    data = json.loads(cli("instances", "start", "--install-service", "--json").stdout)
    assert len(data["services"]) == 2


def test_logs_prints_the_tail_and_errors_without_a_log(cli: Cli) -> None:
    add_two(cli, free_port_block(2))
    none = cli("instances", "logs", "node-1")
    assert none.exit_code == 1 and "has no log yet" in none.stderr
    log = app_paths().logs / "node-1.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text("".join(f"line {i}\n" for i in range(100)))
    assert cli("instances", "logs", "node-1", "-n", "2").stdout == "line 98\nline 99\n"
    assert cli("instances", "logs", "node-1").stdout.count("\n") == 50


def test_logs_follow_prints_new_lines(rlswarm_home: Path, cli: Cli) -> None:
    add_two(cli, free_port_block(2))
    log = app_paths().logs / "node-2.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text("before\n")
    proc = subprocess.Popen(
        [sys.executable, "-m", "rlswarm_cli.main", "instances", "logs", "node-2", "-f", "--lines", "1"],
        cwd=REPO,
        env={**os.environ, "RLSWARM_HOME": str(rlswarm_home), "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == "before\n"
        # appended lines count from the moment the follower holds the file open
        wait_for(lambda: follows(proc.pid, log), what="logs -f opening the log")
        with open(log, "a") as handle:
            handle.write("after 1\nafter 2\n")
        assert proc.stdout.readline() == "after 1\n"
        assert proc.stdout.readline() == "after 2\n"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_remove_keeps_the_identity_unless_asked(cli: Cli) -> None:
    add_two(cli, free_port_block(2))
    done = cli("instances", "remove", "node-2", "--json")
    assert json.loads(done.stdout) == {"removed": "node-2", "identity_deleted": False}
    assert not (app_paths().instances / "node-2").exists()
    assert (app_paths().identities / "node-2.pem").exists()
    assert "removed node-1" in cli("instances", "remove", "node-1", "--delete-identity").stdout
    assert not (app_paths().identities / "node-1.pem").exists()
    again = cli("instances", "remove", "node-1")
    assert again.exit_code == 1 and "no instance named 'node-1'" in again.stderr


def test_with_configured_bootstrap_peers_every_instance_follows_the_public_swarm(cli: Cli) -> None:
    config = app_paths().config_file
    config.parent.mkdir(parents=True, exist_ok=True)
    boot = "/ip4/10.0.0.1/tcp/38331/p2p/QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N"
    config.write_text(f"initial_peers:\n  - {boot}\n")
    port = free_port_block(2)
    data = json.loads(
        cli("instances", "add", "-n", "2", "-p", "local-tiny", "--port", str(port), "--json").stdout
    )
    assert [(c["role"], c["coordinator_peer_id"]) for c in data["created"]] == [("follower", None)] * 2
    from rlswarm_core.instances.registry import load
    from rlswarm_core.instances.supervisor import node_command

    assert "initial_peers" not in load("node-2").settings  # they bootstrap from the config's peers
    assert node_command(load("node-1"))[-2:] == ["--role", "follower"]
