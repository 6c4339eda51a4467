"""``rlswarm rewards`` through the real Typer app, a fresh interpreter and a real terminal (tmux)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from rlswarm_core.instances import registry
from tests.helpers import REPO, Cli, heavy_imports_of
from tests.rewards.journals import write_journal


def test_json_for_all_one_instance_and_one_peer(cli: Cli) -> None:
    write_journal("a", 2, stopped=True)
    _, peer_b = write_journal("b", 3, stopped=True)
    data = json.loads(cli("rewards", "--json").stdout)
    assert [n["name"] for n in data["nodes"]] == ["a", "b"] and data["warnings"] == []
    assert data["nodes"][1]["round"] == 2 and len(data["nodes"][1]["stages"]) == 9
    assert json.loads(cli("rewards", "--all", "--json").stdout)["nodes"] == data["nodes"]
    only = json.loads(cli("rewards", "--instance", "a", "--json").stdout)
    assert [n["name"] for n in only["nodes"]] == ["a"]
    by_peer = json.loads(cli("rewards", "--peer", peer_b, "--json", "--source", "local").stdout)
    assert [n["peer_id"] for n in by_peer["nodes"]] == [peer_b]


def test_human_table_and_stale_warning(cli: Cli) -> None:
    write_journal("busy", 5, earn_until=0, rewards={(0, 0): 1.0})
    # this node is running (no NodeStopped), earned only in round 0 and submitted nothing after round 0
    path = write_journal("quiet", 5, earn_until=0)[0]
    lines = [ln for ln in path.read_text().splitlines() if '"ChainSubmitted"' not in ln or '"round": 0' in ln]
    path.write_text("\n".join(lines) + "\n")
    done = cli("rewards", "--stale-rounds", "3")
    assert done.exit_code == 0
    assert "quiet" in done.stdout and "total" in done.stdout and "▁" in done.stdout
    assert "warning: quiet is running but has not earned or submitted since round 0" in done.stderr
    assert "warning:" not in done.stdout  # printed once, on stderr
    assert "busy is running" not in done.stderr  # it kept submitting its votes
    assert "quiet is running" not in cli("rewards", "--stale-rounds", "9").stderr


def test_no_journals_yet(cli: Cli) -> None:
    done = cli("rewards")
    assert done.exit_code == 0 and "no rewards yet" in done.stdout


def test_option_errors(cli: Cli) -> None:
    write_journal("a", 1)
    for args, hint in (
        (("--source", "moon"), "--source"),
        (("--instance", "a", "--all"), "at most one"),
        (("--watch", "--json"), "--watch"),
        (("--watch", "--interval", "0"), "--interval"),
    ):
        done = cli("rewards", *args)
        assert done.exit_code == 2 and hint in done.stderr, (args, done.stderr)
    done = cli("rewards", "-i", "zz")
    assert done.exit_code == 1 and "no journal for instance 'zz'" in done.stderr


def test_watch_refreshes_a_given_number_of_times(cli: Cli) -> None:
    write_journal("a", 2)
    started = time.monotonic()
    done = cli("rewards", "--watch", "--times", "3", "--interval", "0.2")
    assert done.exit_code == 0 and "rewards (local)" in done.stdout
    assert time.monotonic() - started >= 0.4


def test_rewards_does_not_import_the_heavy_libraries() -> None:
    write_journal("a", 2)
    assert heavy_imports_of("rewards", "--json") == []


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed (apt-get install tmux)")
def test_watch_under_tmux_updates_in_place(rlswarm_home: Path) -> None:
    registry.create("t1", profile="local-tiny", port=45990, threads=1, memory_budget_gb=1.0)
    write_journal("t1", 2)
    session = f"rlswarm-test-{uuid.uuid4().hex[:8]}"
    command = (
        f"cd {REPO} && RLSWARM_HOME={rlswarm_home} NO_COLOR=1 "
        f"{sys.executable} -m rlswarm_cli.main rewards --watch --interval 0.3"
    )
    subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "120", "-y", "30", command], check=True)
    try:

        def screen() -> str:
            return subprocess.run(
                ["tmux", "capture-pane", "-p", "-t", session], capture_output=True, text=True, check=True
            ).stdout

        def wait_for(text: str) -> str:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                shown = screen()
                if text in shown:
                    return shown
                time.sleep(0.2)
            raise AssertionError(f"{text!r} never appeared; screen:\n{screen()}")

        first = wait_for("rewards (local)")
        assert "t1" in first and "1/2" in first  # round 1, stage 2
        # the node moves on: the same screen shows the new round, not a second table below
        write_journal("t1", 4)
        shown = wait_for("3/2")
        assert shown.count("rewards (local)") == 1
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], check=False)
