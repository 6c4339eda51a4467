"""A node that fails at every start, under its real supervisor: one "down" alert, one "restarting in a
loop" alert, both delivered before the supervisor gives up and exits."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from rlswarm_core.alerts import state as alert_state
from rlswarm_core.alerts.config import AlertsConfig, Channel, Rules, save_config
from rlswarm_core.instances import registry
from rlswarm_core.instances.state import read_state
from tests.alerts.sink import sink
from tests.helpers import REPO

pytestmark = pytest.mark.slow


def test_crash_loop_then_giving_up(monkeypatch: pytest.MonkeyPatch) -> None:
    record = registry.create("node-1", profile="local-tiny", port=41500, threads=1, memory_budget_gb=1)
    record.settings["batch_size"] = 3  # not a multiple of num_generations: the node exits at once, each time
    registry.save(record)
    rules = Rules(interval_s=0.2, stall_rounds=0, chain_failures=0, memory=False, disk_min_free_percent=0)
    save_config(AlertsConfig(channels=[Channel(name="hook", kind="webhook", target="x")], rules=rules))
    with sink() as server:
        monkeypatch.setenv("RLSWARM_ALERT_HOOK_SECRET", f"{server.url}/hook")
        done = subprocess.run(
            [sys.executable, "-m", "rlswarm_core.instances.supervise", "node-1",
             "--backoff-base", "0.3", "--backoff-max", "0.6", "--max-failures", "5"],
            cwd=REPO, env={**os.environ}, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        # delivered before the supervisor exited: nothing is waited for here
        messages = [r.json() for r in server.matching("/hook")]
    assert done.returncode == 1 and read_state("node-1")["state"] == "failed"
    assert [(m["rule"], m["status"]) for m in messages] == [
        ("node_down", "firing"),
        ("restart_loop", "firing"),
    ]
    down, loop = messages
    assert "exit code 1" in down["detail"]
    assert loop["title"] in ("node-1 is restarting in a loop", "node-1 gave up")
    assert set(alert_state.read()["active"]) == {"node-1/node_down", "node-1/restart_loop"}
