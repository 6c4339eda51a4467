"""The size-capped log, the Python tail -f, and the service files."""

from __future__ import annotations

import configparser
import os
import plistlib
import sys
import threading
import time
from pathlib import Path

import pytest

from rlswarm_core.instances import registry, service
from rlswarm_core.instances.logfile import RotatingLog, follow, last_lines
from rlswarm_core.instances.supervisor import Backoff
from tests.helpers import follows, wait_for


def test_the_log_is_copied_and_truncated_past_its_cap(tmp_path: Path) -> None:
    path = tmp_path / "n.log"
    log = RotatingLog(path, max_bytes=200, backups=2)
    # another writer appending through its own handle, as the node does
    other = open(path, "a", encoding="utf-8")  # noqa: SIM115
    for i in range(30):
        log.write(f"line {i:03d} " + "x" * 20)
        other.write(f"node {i:03d}\n")
        other.flush()
    log.close()
    other.close()
    assert path.stat().st_size < 200 + 100
    assert (tmp_path / "n.log.1").exists() and (tmp_path / "n.log.2").exists()
    assert not (tmp_path / "n.log.3").exists()
    assert "line 029" in path.read_text() or "line 029" in (tmp_path / "n.log.1").read_text()
    assert not path.read_text().startswith("\0")  # the node's handle continued at the new end


def test_last_lines_reads_from_the_end(tmp_path: Path) -> None:
    path = tmp_path / "big.log"
    path.write_text("".join(f"{i}\n" for i in range(20000)))
    assert last_lines(path, 3) == ["19997", "19998", "19999"]
    assert last_lines(tmp_path / "none.log", 3) == []


def test_follow_sees_appended_lines_and_survives_truncation(tmp_path: Path) -> None:
    path = tmp_path / "f.log"
    path.write_text("old\n")
    seen: list[str] = []
    done = threading.Event()

    def reader() -> None:
        for line in follow(path, should_stop=done.is_set, poll_s=0.05):
            seen.append(line)

    thread = threading.Thread(target=reader)
    thread.start()
    # lines count from the moment the reader holds the file open at its end
    wait_for(lambda: follows(os.getpid(), path), what="follow() opening the file")
    with open(path, "a") as handle:
        handle.write("new 1\nnew 2\n")
    wait_for(lambda: seen == ["new 1", "new 2"], what="the appended lines being read")
    with open(path, "r+") as handle:
        handle.truncate(0)
    with open(path, "a") as handle:
        handle.write("after\n")
    wait_for(lambda: "after" in seen, what="the line after truncation being read")
    done.set()
    thread.join(timeout=5)
    assert seen == ["new 1", "new 2", "after"]


def test_backoff_doubles_up_to_its_cap() -> None:
    backoff = Backoff(base_s=1, max_s=10)
    assert [backoff.delay(n) for n in (1, 2, 3, 4, 5)] == [1, 2, 4, 8, 10]


def _instance() -> None:
    registry.create("svc", profile="local-tiny", port=45999, threads=1, memory_budget_gb=1.0)


def test_systemd_unit_runs_the_supervisor_in_the_foreground(tmp_path: Path, rlswarm_home: Path) -> None:
    _instance()
    unit = service.service_file("svc", platform="linux", home=tmp_path)
    assert unit.path == tmp_path / ".config" / "systemd" / "user" / "rlswarm-svc.service"
    parsed = configparser.ConfigParser(strict=False, interpolation=None)
    parsed.optionxform = str  # type: ignore[assignment,method-assign]
    parsed.read_string(unit.text)
    assert parsed["Service"]["ExecStart"] == f"{sys.executable} -m rlswarm_core.instances.supervise svc"
    assert parsed["Service"]["Restart"] == "on-failure"
    assert f"RLSWARM_HOME={rlswarm_home}" in unit.text
    assert parsed["Install"]["WantedBy"] == "default.target"
    assert "systemctl --user enable --now rlswarm-svc.service" in unit.enable


def test_launchd_agent_is_a_valid_plist(tmp_path: Path, rlswarm_home: Path) -> None:
    _instance()
    agent = service.service_file("svc", platform="darwin", home=tmp_path)
    assert agent.path == tmp_path / "Library" / "LaunchAgents" / "org.rlswarm.instance.svc.plist"
    data = plistlib.loads(agent.text.encode())
    assert data["Label"] == "org.rlswarm.instance.svc"
    assert data["ProgramArguments"] == [sys.executable, "-m", "rlswarm_core.instances.supervise", "svc"]
    assert data["EnvironmentVariables"]["RLSWARM_HOME"] == str(rlswarm_home)
    assert data["RunAtLoad"] is True and data["KeepAlive"] == {"SuccessfulExit": False}


def test_other_platforms_and_unknown_instances_are_refused(tmp_path: Path) -> None:
    from rlswarm_core.errors import RlswarmError

    with pytest.raises(registry.InstanceError):
        service.service_file("nope", platform="linux", home=tmp_path)
    _instance()
    with pytest.raises(RlswarmError, match="no service manager support on win32"):
        service.service_file("svc", platform="win32", home=tmp_path)


def test_a_node_that_keeps_failing_is_restarted_with_backoff_then_given_up(rlswarm_home: Path) -> None:
    import json
    import os
    import subprocess

    from rlswarm_core.instances.state import read_state
    from tests.helpers import REPO

    record = registry.create("bad", profile="local-tiny", port=45998, threads=1, memory_budget_gb=1.0)
    # a settings layer join rejects at once: every start fails with one error line and exit code 1
    record.settings["batch_size"] = 3
    registry.save(record)
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "rlswarm_core.instances.supervise", "bad", "--backoff-base", "0.5",
         "--max-failures", "3"],
        cwd=REPO, env={**os.environ, "RLSWARM_HOME": str(rlswarm_home)}, timeout=120,
    )  # fmt: skip
    assert done.returncode == 1
    assert time.monotonic() - started >= 0.5 + 1.0  # two restarts waited 0.5 s, then 1 s
    state = read_state("bad")
    assert (state["state"], state["restarts"], state["last_exit_code"]) == ("failed", 2, 1)
    log = (rlswarm_home / "logs" / "bad.log").read_text()
    assert log.count("[supervisor] starting node") == 3
    assert "restart 1 in 0.5 s" in log and "restart 2 in 1.0 s" in log
    assert "batch_size" in log and "giving up" in log
    assert json.loads(json.dumps(state))["child"] is None
