"""Two supervised local-tiny nodes in one local swarm: start, progress, a crash and its restart, restart,
and a stop that leaves nothing behind. Real processes throughout."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil
import pytest

from rlswarm_core.instances import supervisor
from rlswarm_core.instances.state import liveness
from rlswarm_core.node.journal import read_journal
from rlswarm_core.system.paths import app_paths
from tests.helpers import REPO, Cli
from tests.instances.ports import free_port_block

pytestmark = pytest.mark.slow


def rows(cli: Cli) -> dict[str, dict[str, Any]]:
    done = cli("instances", "list", "--json")
    assert done.exit_code == 0, done.stderr
    return {r["name"]: r for r in json.loads(done.stdout)["instances"]}


def wait_until(
    cli: Cli, check: Callable[[dict[str, dict[str, Any]]], bool], timeout: float, what: str
) -> dict:
    deadline = time.monotonic() + timeout
    last: dict[str, dict[str, Any]] = {}
    while time.monotonic() < deadline:
        last = rows(cli)
        if check(last):
            return last
        time.sleep(1)
    logs = {
        n: (app_paths().logs / f"{n}.log").read_text()[-1500:]
        for n in last
        if (app_paths().logs / f"{n}.log").exists()
    }
    raise AssertionError(f"{what} within {timeout:.0f} s; list: {last}; logs: {logs}")


def ours(home: Path) -> list[psutil.Process]:
    """Every process started for this RLSWARM_HOME: supervisors, nodes, their DHT processes and p2pd."""
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        with contextlib.suppress(psutil.Error):
            cmd = " ".join(proc.info["cmdline"] or [])
            mine = str(home) in cmd or proc.environ().get("RLSWARM_HOME") == str(home)
            if mine and proc.pid != os.getpid() and proc.status() != psutil.STATUS_ZOMBIE:
                found.append(proc)
    return found


def test_two_supervised_nodes_survive_a_crash_and_stop_cleanly(rlswarm_home: Path, cli: Cli) -> None:
    port = free_port_block(2)
    added = cli(
        "instances", "add", "--count", "2", "--profile", "local-tiny", "--host", "127.0.0.1",
        "--port", str(port),
    )  # fmt: skip
    assert added.exit_code == 0, added.stderr
    try:
        started = cli("instances", "start", "--json")
        assert started.exit_code == 0, started.stderr
        pids = {s["name"]: s["pid"] for s in json.loads(started.stdout)["started"]}
        assert len(set(pids.values())) == 2

        # a second start is refused, and a second supervisor loses the lock at once
        again = cli("instances", "start", "node-1")
        assert again.exit_code == 1 and "already running" in again.stderr
        rival = subprocess.run(
            [sys.executable, "-m", "rlswarm_core.instances.supervise", "node-1"],
            cwd=REPO, env={**os.environ}, timeout=60, capture_output=True,
        )  # fmt: skip
        assert rival.returncode == supervisor.EXIT_LOCKED

        # both train in one swarm: the follower reaches the coordinator's rounds
        first = wait_until(
            cli,
            lambda r: all(x["stages_done"] >= 1 for x in r.values()),
            150,
            "both nodes did not finish a stage",
        )
        assert {x["port"] for x in first.values()} == {port, port + 1}
        # the follower was started once its coordinator had joined: its first bootstrap succeeded
        assert first["node-2"]["restarts"] == 0
        assert all(x["state"] == "running" and x["uptime_s"] > 0 for x in first.values())
        later = wait_until(
            cli,
            lambda r: all(r[n]["stages_done"] > first[n]["stages_done"] and r[n]["round"] >= 1 for n in r),
            150,
            "rounds did not advance",
        )
        journal = app_paths().instances / "node-2" / "events.jsonl"
        peers = [e["peers"] for e in read_journal(journal) if e["kind"] == "PeerCountChanged"]
        assert max(peers) == 2, peers

        # kill -9 of the follower's node: the supervisor restarts it and it resumes
        victim = later["node-2"]["pid"]
        restarts = later["node-2"]["restarts"]
        killed_at = time.time()
        os.kill(victim, signal.SIGKILL)
        restarted = wait_until(
            cli,
            lambda r: r["node-2"]["restarts"] == restarts + 1 and r["node-2"]["pid"] not in (None, victim),
            60,
            "no restart after kill -9",
        )
        assert restarted["node-2"]["last_exit_code"] == -signal.SIGKILL
        wait_until(
            cli,
            lambda r: any(
                e["kind"] == "StageFinished" and e["at"] > killed_at for e in read_journal(journal, limit=200)
            ),
            150,
            "the restarted node did not train again",
        )
        events = [e for e in read_journal(journal) if e["at"] > killed_at]
        assert any(e["kind"] == "Resumed" for e in events) or any(e["kind"] == "NodeStarted" for e in events)
        log = cli("instances", "logs", "node-2", "-n", "400").stdout
        assert "node exited with code -9" in log and f"restart {restarts + 1} in" in log

        # restart: a fresh node process under a fresh supervisor
        before = rows(cli)["node-1"]
        redone = cli("instances", "restart", "node-1", "--timeout", "30", "--json")
        assert redone.exit_code == 0, redone.stderr
        new_pid = json.loads(redone.stdout)["restarted"][0]["pid"]
        assert new_pid != before["pid"] and liveness("node-1").child_alive

        # a supervisor killed outright takes its node with it: the node is sent SIGTERM, stops after its
        # step and leaves nothing behind, so no orphan holds the identity and port of a restart
        node_1 = psutil.Process(new_pid)
        deadline = time.monotonic() + 150
        while not any(p.name() == "p2pd" for p in node_1.children(recursive=True)):
            assert time.monotonic() < deadline, "the restarted node-1 never started its DHT"
            time.sleep(0.5)
        doomed = [node_1, *node_1.children(recursive=True)]
        os.kill(liveness("node-1").supervisor.pid, signal.SIGKILL)  # type: ignore[union-attr]
        _, alive = psutil.wait_procs(doomed, timeout=60)
        assert not alive, f"left behind by node-1 after its supervisor was killed: {alive}"
        wait_until(cli, lambda r: r["node-1"]["state"] == "dead", 20, "node-1 not listed as dead")

        tree = ours(rlswarm_home)
        assert any("p2pd" in " ".join(p.cmdline()) for p in tree)
        stopped = cli("instances", "stop", "--json")
        assert stopped.exit_code == 0, stopped.stderr
        assert {s["name"]: s["stopped"] for s in json.loads(stopped.stdout)["stopped"]}["node-2"]
        _, alive = psutil.wait_procs(tree, timeout=10)
        assert not alive and not ours(rlswarm_home), f"left behind: {alive or ours(rlswarm_home)}"
        assert rows(cli)["node-2"]["state"] == "stopped"
    finally:
        supervisor.stop_many(["node-1", "node-2"], timeout_s=10)
        for proc in ours(rlswarm_home):
            with contextlib.suppress(psutil.Error):
                proc.kill()
